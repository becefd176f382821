"""Paper A's tile data: its classes, the container of labelled tiles (synthetic or real), the tile folder.

The real-data path is a tile folder (RGB tiles, integer label maps, a CSV of stains).

Layout under ``data_root``::

    tiles/<tile_id>.png     8-bit RGB tile
    labels/<tile_id>.png    8-bit label map, same size: 0 background, 1 tumour, 2 tissue,
                            3 necrosis, 255 exclude (zero loss weight, not scored)
    tiles.csv               columns tile_id, stain, slide, split (train or test)

Validation tiles are held out of ``train`` by slide (paper A: 10 % of the training data).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cpath_repro.errors import DataNotFoundError

#: Paper A, sections 2 and 3: the segmentation classes (the "exclude" label has no output channel).
CLASSES = ("background", "tumour", "tissue", "necrosis")
#: Label value of "exclude" pixels (zero loss weight, not evaluated).
EXCLUDE = 255


@dataclass
class Tiles:
    """Labelled tiles and where they came from (cut from synthetic slides or read from a tile folder)."""

    images: np.ndarray  # (N, T, T, 3) uint8
    labels: np.ndarray  # (N, T, T) uint8
    assays: np.ndarray  # (N,) str
    slides: np.ndarray  # (N,) int

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, keep: np.ndarray) -> Tiles:
        """The tiles where ``keep`` (a boolean mask or indices) selects."""
        return Tiles(self.images[keep], self.labels[keep], self.assays[keep], self.slides[keep])


LAYOUT = "tiles/<id>.png, labels/<id>.png (0-3, 255 = exclude) and tiles.csv (tile_id, stain, slide, split)"
VALID_LABELS = set(range(len(CLASSES))) | {EXCLUDE}
COLUMNS = ("tile_id", "stain", "slide", "split")


def read_tile_folder(root: Path, split: str) -> Tiles:
    """Read one split (``train`` or ``test``) of a tile folder, checking every tile against its label map."""
    from skimage import io

    root = Path(root)
    index = root / "tiles.csv"
    if not root.is_dir():
        raise DataNotFoundError(f"Expected paper A's tile folder at '{root}' ({LAYOUT}); it does not exist.")
    if not index.is_file():
        raise DataNotFoundError(f"Expected '{index}' listing the tiles ({LAYOUT}).")
    with open(index, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DataNotFoundError(f"'{index}' has no column {', '.join(missing)} (expected {', '.join(COLUMNS)}).")
        rows = [r for r in reader if r.get("split") == split]
    if not rows:
        raise DataNotFoundError(f"'{index}' lists no tile with split '{split}'.")
    images: list[np.ndarray] = []
    labels, stains, slides = [], [], []
    for row in rows:
        tile_path = root / "tiles" / f"{row['tile_id']}.png"
        label_path = root / "labels" / f"{row['tile_id']}.png"
        for path in (tile_path, label_path):
            if not path.is_file():
                raise DataNotFoundError(f"Tile '{row['tile_id']}' is listed in tiles.csv but '{path}' is missing.")
        try:
            image, label = io.imread(tile_path), io.imread(label_path)
        except Exception as exc:  # corrupt or truncated file
            raise DataNotFoundError(f"Tile '{row['tile_id']}' cannot be read ({type(exc).__name__}).") from None
        if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
            raise DataNotFoundError(f"Tile '{tile_path}' is not 8-bit RGB (shape {image.shape}, {image.dtype}).")
        if label.ndim != 2:
            raise DataNotFoundError(f"Label map '{label_path}' is a colour image; a label map holds one class index "
                                    f"per pixel (0-{len(CLASSES) - 1}, {EXCLUDE} = exclude), as 8-bit greyscale.")
        if images and image.shape != images[0].shape:
            first = images[0].shape
            raise DataNotFoundError(f"Tile '{tile_path}' is {image.shape[1]}x{image.shape[0]} but the first tile of "
                                    f"split '{split}' is {first[1]}x{first[0]}; tiles must share one size.")
        if label.shape != image.shape[:2]:
            raise DataNotFoundError(
                f"Label map '{label_path}' is {label.shape[1]}x{label.shape[0]} but its tile is "
                f"{image.shape[1]}x{image.shape[0]}."
            )
        unknown = set(np.unique(label).tolist()) - VALID_LABELS
        if unknown:
            raise DataNotFoundError(
                f"Label map '{label_path}' has unknown class value(s) {sorted(unknown)}; "
                f"expected 0-{len(CLASSES) - 1} or {EXCLUDE} (exclude)."
            )
        images.append(image)
        labels.append(label.astype(np.uint8))
        stains.append(row["stain"])
        slides.append(row["slide"])
    _, slide_ids = np.unique(np.array(slides), return_inverse=True)
    return Tiles(np.stack(images), np.stack(labels), np.array(stains), slide_ids)


def write_tile_folder(tiles: Tiles, root: Path, split: str) -> list[Path]:
    """Write tiles in the layout above (appending to tiles.csv); used for fixtures and exports."""
    from skimage import io

    root = Path(root)
    (root / "tiles").mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(exist_ok=True)
    index = root / "tiles.csv"
    new = not index.exists()
    written = []
    with open(index, "a", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        if new:
            writer.writerow(["tile_id", "stain", "slide", "split"])
        for i in range(len(tiles)):
            tile_id = f"{split}-{i:05d}"
            io.imsave(root / "tiles" / f"{tile_id}.png", tiles.images[i], check_contrast=False)
            io.imsave(root / "labels" / f"{tile_id}.png", tiles.labels[i], check_contrast=False)
            writer.writerow([tile_id, tiles.assays[i], f"{split}-slide{tiles.slides[i]}", split])
            written.append(root / "tiles" / f"{tile_id}.png")
    return written
