"""Paper D (Takahama et al.): multi-stage whole-slide classification (patch features, then a slide-level U-Net).

``settings`` declares the chapter's parameters (shared by its notebooks, so they share slides and models);
``data`` reads slides from their layouts (synthetic ones written in the same layouts); ``training`` is the
recipe (the five methods, every model in the store); ``analysis`` builds the tables, claim tables and
measurements; ``apply`` runs a trained model over a whole slide; ``figures`` and ``paper`` (the paper's
numbers) are for the pages; ``notebooks`` declares them.
"""
