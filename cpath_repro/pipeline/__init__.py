"""From notebooks to a book: papermill execution with a cache, checks, staging and the build."""
