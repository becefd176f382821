"""Loaders for real data on disk (nothing is downloaded)."""
