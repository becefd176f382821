"""The pretraining stand-in (Foundations): what papers B, C and D start from when no ImageNet weights are here.

The work is in :mod:`cpath_repro.transfer.pretraining` (shared by every chapter); ``analysis`` gathers
what the page shows (where each backbone's weights come from, the stand-ins, the probe and its
verdicts); ``notebooks`` declares the page that trains the stand-ins once and measures whether they
pretrain.
"""
