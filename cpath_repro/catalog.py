"""Every notebook of the book, gathered from the chapters that declare them.

Each chapter declares its notebooks (artifacts, description, typed parameters) in its own
``notebooks`` module, beside its code; this module only gathers them, in book order. The
notebook's ``parameters`` cell repeats the names (with ``None`` meaning "the profile's
value") so that plain ``papermill -p NAME VALUE`` works too; a test keeps the two in step.

A notebook's kernel imports the catalog only to find its own declaration, so the catalog and
the other chapters' declarations are left out of its result's cache key
(:func:`lookup_modules`): editing paper C's declarations re-executes paper C's pages only.
The declarations import nothing but shared leaves (a test keeps it so).
"""

from __future__ import annotations

from types import ModuleType

from cpath_repro.chapters.paper_a import notebooks as paper_a
from cpath_repro.chapters.paper_b import notebooks as paper_b
from cpath_repro.chapters.paper_c import notebooks as paper_c
from cpath_repro.chapters.paper_d import notebooks as paper_d
from cpath_repro.chapters.paper_e import notebooks as paper_e
from cpath_repro.chapters.pretraining import notebooks as pretraining
from cpath_repro.chapters.stains import notebooks as stains
from cpath_repro.errors import ParameterError
from cpath_repro.profiles import NotebookSpec

__all__ = ["NOTEBOOKS", "NotebookSpec", "get"]

#: Book order: the foundations, then each paper's chapter.
CHAPTERS = (stains, pretraining, paper_e, paper_a, paper_b, paper_c, paper_d)

NOTEBOOKS: dict[str, NotebookSpec] = {spec.name: spec for chapter in CHAPTERS for spec in chapter.NOTEBOOKS}


def lookup_modules(name: str) -> frozenset[str]:
    """The modules a kernel imports only to look up notebook ``name``: the catalog and the other chapters'
    declarations (their ``notebooks`` modules and the chapter modules those import, e.g. ``settings``)."""
    from cpath_repro.project import import_closure

    own = chapter_of(name)
    others = set()
    for chapter in CHAPTERS:
        if chapter is not own:
            package = chapter.__name__.rpartition(".")[0] + "."
            others |= {m for m in import_closure(chapter.__name__) if m.startswith(package) or m == package[:-1]}
    return frozenset({__name__} | others)


def chapter_of(name: str) -> ModuleType:
    """The declarations module of the chapter that declares notebook ``name``."""
    spec = get(name)
    return next(c for c in CHAPTERS if any(s is spec for s in c.NOTEBOOKS))


def get(name: str) -> NotebookSpec:
    """The spec of a notebook by name (case-insensitive), or a one-sentence error."""
    for spec in NOTEBOOKS.values():
        if spec.name.lower() == name.lower():
            return spec
    raise ParameterError(f"Unknown notebook {name!r}; `cpath-repro list` shows the {len(NOTEBOOKS)} notebooks.")
