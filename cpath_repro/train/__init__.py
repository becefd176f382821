"""The shared training engine, distributed helpers and the content-addressed model store."""
