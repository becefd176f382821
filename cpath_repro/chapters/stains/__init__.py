"""The stain library (Foundations): paper A's nine assays by Beer-Lambert, and its notebook.

The library itself is :mod:`cpath_repro.synth.stains` (shared by every chapter); ``analysis`` holds what
the page measures and shows (each assay rendered, deconvolution recovery, slide-to-slide jitter, real
IHC and the reader's own tiles deconvolved); ``notebooks`` declares the page and its parameters.
"""
