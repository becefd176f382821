"""Paper A (Lahiani et al.): UNET vs CD-UNET, single-stain vs multistain.

``training`` is the recipe (arms, data, stored models, test tables); ``explain`` measures what
the models learned (A-F6 ... A-F9); ``notebooks`` declares the chapter's notebooks.
"""
