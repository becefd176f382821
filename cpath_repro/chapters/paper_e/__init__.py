"""Paper E (Gupta et al., deep learning in image cytometry, a review): its concepts as live, measured demos.

The chapter is grouped by job, as the other chapters are, not by notebook:

- ``data``: the synthetic inputs (nucleus crops with their classes and object masks, counting crops,
  fluorescence images and their low-light copies), each seed's test data drawn from its own seed;
- ``training``: the shared engine's classifier training and every experiment that learns the shape task
  (E-F1's workflows, E-F5's plain vs residual network, E-K1's fitting, dropout, batch norm, augmentation and
  transfer, E-K3's imbalance arms, the CNNs E-K4 explains and E-K5 calibrates), each returning its per-seed table;
- ``families``: E-K2's method families (U-Net, denoising autoencoder, GAN, recurrent tracker), each trained on its
  own data and scored in one function, since its training and its scoring share data and models;
- ``analysis``: what is measured without training (gradients, receptive fields, activations, feature-map sizes),
  the summaries over seeds with the metric names each page saves, and the measurements of a trained CNN
  (interpretations, calibration and conformal coverage);
- ``figures``: paper E's drawings (convolution, pooling, descent, activations, tracks, grids, reliability) and the
  figure of each page section that reshapes a table first (generic plots come from :mod:`cpath_repro.viz`);
- ``notebooks``: the declarations. Each notebook keeps its own parameters there (the demos share no models), so
  E has no ``settings`` module; and no ``paper`` module, since a review reports no numbers of its own to reproduce.

No demo puts a model in the store: each trains what it measures, in seconds, when its page runs.
"""
