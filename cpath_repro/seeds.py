"""One way to derive random numbers from a seed: named streams of numpy's :class:`~numpy.random.SeedSequence`.

A trial's seed feeds many independent draws: the synthetic data, the split, the initial weights, the order of
the batches. A seed handed straight to one generator (``torch.manual_seed(seed)`` for the initial weights, a
synthetic generator's ``seed``) is that generator's root; every further draw from the same seed takes its own
stream, named for what it draws, e.g. ``rng(seed, "test split")`` or ``derive(seed, "batch order", epoch)``, so
that adding a draw never shifts another and two draws never collide by arithmetic (as hand offsets like
``seed * 100_000 + k`` can). SeedSequence mixes the seed and the stream's words into well-separated states; names
are turned into words by CRC-32, which, unlike ``hash``, is the same in every process. A leaf: numpy only.
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["derive", "rng", "sequence"]


def _word(part: int | str) -> int:
    if isinstance(part, str):
        return zlib.crc32(part.encode("utf-8"))
    if isinstance(part, bool) or int(part) != part or part < 0:
        raise ValueError(f"A stream is named by strings and non-negative whole numbers, got {part!r}.")
    return int(part)


def sequence(seed: int, *stream: int | str) -> np.random.SeedSequence:
    """The SeedSequence of ``seed``'s stream ``stream`` (its words: names and non-negative numbers)."""
    return np.random.SeedSequence([_word(seed), *(_word(p) for p in stream)])


def rng(seed: int, *stream: int | str) -> np.random.Generator:
    """A numpy generator for ``seed``'s stream ``stream``, e.g. ``rng(seed, "test split")``."""
    return np.random.default_rng(sequence(seed, *stream))


def derive(seed: int, *stream: int | str) -> int:
    """A 63-bit seed from ``seed``'s stream, for what takes a whole number: ``torch.manual_seed``, a torch
    ``Generator``, a synthetic generator's ``seed``."""
    return int(sequence(seed, *stream).generate_state(1, np.uint64)[0] >> np.uint64(1))
