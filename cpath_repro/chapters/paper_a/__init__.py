"""Paper A (Lahiani et al.): UNET vs CD-UNET, single-stain vs multistain.

The chapter's modules, each with one job (the same names in every paper's chapter):

- ``settings``: the notebook parameters, declared once, and what they derive (the tile folder, the
  synthetic slides' generator settings);
- ``data``: the tiles of each seed and split (synthetic slides or the real tile folder), what the
  store keys and the runs record of them, and example tiles in the paper's label colours;
- ``training``: the recipe (the arms, their models in the store, trained if missing);
- ``analysis``: the test tables, convergence and claim tables, and what the models learned (A-F6 ... A-F9);
- ``figures``: paper A's own plots;
- ``paper``: the paper's numbers (Tables 1 and 2) and our tables beside them;
- ``notebooks``: the chapter's notebook declarations.

A trained model's store key follows the import closure of ``training`` (``data`` included), which
reads the settings without importing them: analysis, figures, the paper's numbers, the parameters'
wording and the declarations can change without retraining anything.
"""
