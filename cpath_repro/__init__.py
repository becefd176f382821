"""cpath-repro: a reproducible companion to five computational-pathology papers.

Importing the package is cheap: heavy optional pieces (OpenSlide, captum, grad-cam,
papermill, Jupyter Book) are imported by the modules that need them.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cpath-repro")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
