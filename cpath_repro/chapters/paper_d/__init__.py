"""Paper D: multi-stage whole-slide classification (patch features, then a slide-level U-Net)."""
