"""Paper E's concepts as small, checked computations (convolution, pooling, ...)."""
