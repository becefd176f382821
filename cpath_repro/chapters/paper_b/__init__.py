"""Paper B (Zhang et al., HistoKT): standardized datasets, cross transfer, tuning, weight distillation.

``settings`` declares the chapter's parameters (shared by its notebooks, so they share models); ``data`` turns
a dataset (synthetic or real) into standardized crops split by source image; ``training`` is the recipe
(baselines, deep/fine-tuning, two-stage, distilled) with every model in the store; ``analysis`` builds the
tables, claim tables and figure data; ``figures`` and ``paper`` (the paper's numbers) are for the pages;
``notebooks`` declares them.
"""
