"""Explanation tools: activation maximization, SmoothGrad (captum), effective receptive fields."""
