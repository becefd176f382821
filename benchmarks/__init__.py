"""Benchmarks: ratios measured in one run (these machines are noisy). Run with `make bench`."""
