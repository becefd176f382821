"""Paper C: cervix type classification (Kaggle Intel & MobileODT).

``settings`` declares the chapter's parameters (shared by its notebooks, so they share models); ``data`` makes
or reads the images and their splits; ``models`` the architectures and ``training`` the recipe (one arm for one
seed, through the store); ``cleaning`` the filters of the additional data and ``ensemble`` the class-weighted
ensemble; ``analysis`` builds the tables, claim tables and measurements; ``figures`` and ``paper`` (the paper's
numbers) are for the pages; ``notebooks`` declares them.
"""
