"""Paper E's demos: one module per notebook (``f1`` is E-F1, ``k1_training`` is E-K1-training, ...);
``common`` holds what they share."""
