"""Reading the user's own RGB tiles, with a documented skip for files that are not usable."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cpath_repro.errors import DataNotFoundError

TILE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")


@dataclass
class TileSet:
    images: list[np.ndarray] = field(default_factory=list)  # (H, W, 3) uint8
    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # (file, why)


def read_rgb_tiles(root: Path, limit: int | None = None) -> TileSet:
    """Read 8-bit RGB tiles from ``root``; grayscale, RGBA-with-transparency, other depths and
    unreadable files are skipped with a reason (the caller reports the count)."""
    from skimage import io

    root = Path(root)
    if not root.is_dir():
        raise DataNotFoundError(f"Expected a folder of RGB tiles at '{root}', which does not exist.")
    candidates = sorted(p for p in root.iterdir() if p.suffix.lower() in TILE_SUFFIXES)
    tiles = TileSet()
    for path in candidates:
        if limit is not None and len(tiles.images) >= limit:
            break
        try:
            image = io.imread(path)
        except Exception as exc:  # any decoder error means "not an image we can read"
            tiles.skipped.append((path, f"unreadable ({type(exc).__name__})"))
            continue
        if image.dtype != np.uint8:
            tiles.skipped.append((path, f"not 8-bit ({image.dtype})"))
        elif image.ndim != 3 or image.shape[-1] not in (3, 4):
            tiles.skipped.append((path, f"not RGB (shape {image.shape})"))
        elif image.shape[-1] == 4 and image[..., 3].min() < 255:
            tiles.skipped.append((path, "RGBA with transparent pixels"))
        else:
            tiles.images.append(np.ascontiguousarray(image[..., :3]))
            tiles.files.append(path)
    if not tiles.images:
        raise DataNotFoundError(
            f"No usable 8-bit RGB tile (PNG, JPEG or TIFF) in '{root}' "
            f"({len(candidates)} candidate file(s), {len(tiles.skipped)} skipped)."
        )
    return tiles
