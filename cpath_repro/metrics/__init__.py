"""Metrics: per-class F1, class balancing, convergence of training curves."""
