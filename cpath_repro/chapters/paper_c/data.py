"""Paper C's data for one seed: the initial set split three ways, the additional set cleaned, the test set.

Section 10: "we limit the additional data to the training set, and have the validation set come
solely from the original dataset". The initial set is split by image, stratified by type, into
training, validation (every model's score: the paper's validation loss) and a hold-out split on
which C-T8's ensemble is judged after its weights were set on validation. Both cleaning filters
are fitted on the initial *training* images only. The synthetic sets are
:mod:`cpath_repro.synth.cervix`; a real Kaggle folder (``data_root``) is
:mod:`cpath_repro.data.cervix`, of which at most ``n_initial`` / ``n_additional`` / ``n_test``
images are used (a seeded random choice; the ``paper`` profile's counts are the whole set).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.model_selection import train_test_split

from cpath_repro import seeds
from cpath_repro.chapters.paper_c import cleaning
from cpath_repro.data import cervix as kaggle
from cpath_repro.data.layout import locate
from cpath_repro.errors import DataNotFoundError
from cpath_repro.project import data_fingerprint
from cpath_repro.synth import cervix as synthetic

if TYPE_CHECKING:  # the recipe reads the settings; their declaration (words a reader sees) stays out of its key
    from cpath_repro.chapters.paper_c.settings import Settings

TYPES = synthetic.TYPES
#: Shares of the initial images: training, validation, hold-out (ours; the paper names a "self-designated
#: validation set" only).
SPLIT_SHARES = {"train": 0.6, "val": 0.2, "holdout": 0.2}
INITIAL_SPLITS = tuple(SPLIT_SHARES)


@dataclass(frozen=True)
class Images:
    """Images of one split: pixels, types (-1: unlabelled), names; on synthetic data their truth."""

    images: np.ndarray  # (N, H, W, 3) uint8
    labels: np.ndarray  # (N,) int64
    names: tuple[str, ...]
    tz: np.ndarray | None = None  # (N, H, W) bool: the transformation zone
    bad: tuple[str | None, ...] | None = None  # additional images: why each is bad (None: good)

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, keep: np.ndarray) -> Images:
        rows = np.flatnonzero(keep)
        return Images(self.images[rows], self.labels[rows], tuple(self.names[i] for i in rows),
                      None if self.tz is None else self.tz[rows],
                      None if self.bad is None else tuple(self.bad[i] for i in rows))


@dataclass(frozen=True)
class Prepared:
    """Every split for one seed and the cleaning of the additional images."""

    kind: str  # "synthetic" or "real"
    splits: dict[str, Images]  # train, val, holdout, additional, test
    cleaning: cleaning.CleaningResult | None  # None when there are no additional images
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def additional_kept(self) -> Images:
        """The twice-filtered additional images (section 10), or none."""
        extra = self.splits["additional"]
        return extra.subset(self.cleaning.kept) if self.cleaning is not None else extra

    @property
    def bad(self) -> np.ndarray | None:
        """Which additional images are bad (synthetic data only)."""
        known = self.splits["additional"].bad
        return None if known is None else np.array([b is not None for b in known])


def _stack(images: list[np.ndarray], size: tuple[int, int]) -> np.ndarray:
    return np.stack(images) if images else np.zeros((0, *size, 3), np.uint8)


def _synthetic_split(s: Settings, kind: str, n: int, seed: int) -> Images:
    made = list(synthetic.make_set(kind, n, seed, s.size, difficulty=s.difficulty, zone_reach=s.zone_reach,
                                      os_mucus=s.os_mucus)) if n else []
    return Images(_stack([m.image for m in made], s.size), np.array([m.label for m in made], np.int64),
                  tuple(f"{kind}_{m.index}.jpg" for m in made),
                  np.stack([m.tz_mask for m in made]) if made else None,
                  tuple(m.bad for m in made) if kind == "additional" else None)


def _real_split(s: Settings, data: kaggle.CervixData, subset: str, n: int, seed: int) -> Images:
    files = data.of(subset)
    order = seeds.rng(seed, "sample", subset).permutation(len(files))[:n]
    pixels, labels, names = [], [], []
    for image, read in data.readable([files[i] for i in sorted(order)], size=s.size):
        pixels.append(read)
        labels.append(-1 if image.label is None else image.label)
        names.append(image.name)
    return Images(_stack(pixels, s.size), np.array(labels, np.int64), tuple(names))


def _split_initial(initial: Images, seed: int) -> dict[str, Images]:
    rows = np.arange(len(initial))
    held = SPLIT_SHARES["val"] + SPLIT_SHARES["holdout"]
    train, rest = train_test_split(rows, test_size=held, stratify=initial.labels, random_state=seed)
    val, holdout = train_test_split(rest, test_size=SPLIT_SHARES["holdout"] / held, stratify=initial.labels[rest],
                                    random_state=seed)
    out = {}
    for name, chosen in (("train", train), ("val", val), ("holdout", holdout)):
        keep = np.zeros(len(initial), bool)
        keep[chosen] = True
        out[name] = initial.subset(keep)
    return out


@lru_cache(maxsize=8)
def prepare(s: Settings, seed: int) -> Prepared:
    """Every split for ``seed`` (cached for the kernel's lifetime)."""
    if s.data_root is None:
        initial = _synthetic_split(s, "initial", s.n_initial, seed)
        extra = _synthetic_split(s, "additional", s.n_additional, seed)
        test = _synthetic_split(s, "test", s.n_test, seed)
        skipped: list[tuple[str, str]] = []
        kind = "synthetic"
    else:
        data = kaggle.load(s.data_root)
        initial = _real_split(s, data, "initial", s.n_initial, seed)
        extra = _real_split(s, data, "additional", s.n_additional, seed) if data.additional else \
            _synthetic_split(s, "additional", 0, seed)
        test = _real_split(s, data, "test", s.n_test, seed) if data.test else _synthetic_split(s, "test", 0, seed)
        skipped, kind = list(data.skipped), "real"
    counts = np.bincount(initial.labels, minlength=len(TYPES))
    if (counts < 3).any():
        raise DataNotFoundError(f"The initial set needs at least 3 images of each type for its three splits; it has "
                                f"{', '.join(f'{t}: {c}' for t, c in zip(TYPES, counts, strict=True))}.")
    splits = {**_split_initial(initial, seed), "additional": extra, "test": test}
    cleaned = (cleaning.clean_additional(list(splits["train"].images), list(extra.images), s.keep_fraction)
               if len(extra) else None)
    return Prepared(kind, splits, cleaned, skipped)


def describe(s: Settings) -> dict[str, Any]:
    """What a model rests on: part of its store key and the page's provenance."""
    common = {"size": list(s.size), "n_initial": s.n_initial, "n_additional": s.n_additional,
              "keep_fraction": s.keep_fraction, "splits": SPLIT_SHARES}
    if s.data_root is not None:
        folder = locate(s.data_root, kaggle.NAME)
        return {"kind": "real", "root": str(folder), "fingerprint": data_fingerprint(str(folder)), **common}
    return {"kind": "synthetic", "generator": synthetic.__name__, "difficulty": s.difficulty,
            "zone_reach": s.zone_reach, "os_mucus": s.os_mucus, **common}
