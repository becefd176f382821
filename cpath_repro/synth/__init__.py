"""Synthetic data with ground truth: stains (Beer-Lambert) and tissue fields."""
