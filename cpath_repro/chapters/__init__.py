"""The work behind each notebook: one module per notebook, called from its cells."""
