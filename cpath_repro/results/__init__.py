"""Results store: atomic writes, provenance and the per-notebook run."""
