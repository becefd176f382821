"""A real fluorescence nuclei image with its instance mask (2018 Data Science Bowl, via the stardist wheel).

``make data`` fetches the stardist wheel from the package index without installing it and
extracts ``img2d.tif`` and ``mask2d.tif`` (512x512, 125 labelled nuclei) into ``data/real/dsb2018``.
Nothing is downloaded at run time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cpath_repro.errors import DataNotFoundError
from cpath_repro.project import PROJECT_ROOT

DSB_DIR = PROJECT_ROOT / "data" / "real" / "dsb2018"
FILES = ("img2d.tif", "mask2d.tif")


def percentile_normalize(image: np.ndarray) -> np.ndarray:
    """Scale by the 1st-99.8th intensity percentiles to [0, 1] (the same for real and synthetic images)."""
    low, high = np.percentile(image, (1, 99.8))
    return np.clip((image - low) / (high - low + 1e-12), 0, 1).astype(np.float32)


def read_dsb_sample(root: Path = DSB_DIR) -> tuple[np.ndarray, np.ndarray]:
    """``(image, labels)``: the image scaled to [0, 1] by its 1st-99.8th percentiles, the instance mask."""
    import tifffile

    missing = [name for name in FILES if not (Path(root) / name).is_file()]
    if missing:
        raise DataNotFoundError(
            f"Expected the real nuclei sample {', '.join(missing)} in '{root}'; run `make data` to extract it "
            "from the stardist wheel."
        )
    problem = None
    try:
        image = tifffile.imread(Path(root) / FILES[0]).astype(np.float32)
        labels = tifffile.imread(Path(root) / FILES[1]).astype(np.int32)
        if image.ndim != 2 or not image.size or labels.shape != image.shape:
            problem = f"an image of shape {image.shape} with a mask of shape {labels.shape}"
    except Exception as exc:  # a truncated or corrupt TIFF
        problem = type(exc).__name__
    if problem:
        raise DataNotFoundError(f"The real nuclei sample in '{root}' cannot be read ({problem}); delete that folder "
                                "and run `make data` to extract it again.")
    return percentile_normalize(image), labels
