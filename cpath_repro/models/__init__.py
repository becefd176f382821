"""Network architectures of the papers."""
