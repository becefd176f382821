"""The layout keeps its promises: chapters declare their notebooks, data constants live with the data,
and what every notebook imports (the catalog) reaches no chapter's code."""

from __future__ import annotations

import ast
import inspect

from cpath_repro import catalog
from cpath_repro.project import PACKAGE_DIR, import_closure


def test_each_chapter_declares_its_notebooks_and_the_catalog_only_gathers_them():
    tree = ast.parse((PACKAGE_DIR / "catalog.py").read_text())
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") in ("NotebookSpec", "Param")]
    assert calls == [], "catalog.py declares no notebook or parameter itself"
    declared = [spec.name for chapter in catalog.CHAPTERS for spec in chapter.NOTEBOOKS]
    assert sorted(declared) == sorted(catalog.NOTEBOOKS) and len(declared) == len(set(declared))
    for chapter in catalog.CHAPTERS:
        assert chapter.__name__.startswith("cpath_repro.chapters.") and chapter.__name__.endswith(".notebooks")


def test_the_catalog_every_notebook_imports_reaches_no_chapter_code():
    reached = import_closure("cpath_repro.catalog")
    chapter_code = [m for m in reached if m.startswith("cpath_repro.chapters.") and not m.endswith(".notebooks")
                    and m.count(".") > 2]
    assert chapter_code == [], "a change to a chapter's code must not make every notebook stale"
    # (paper A's parameter check reads the synthetic generator's memory model, so synth.tissue may be reached)
    assert not any(m.startswith(("cpath_repro.train", "cpath_repro.models")) for m in reached)


def test_data_loaders_take_class_names_and_containers_from_data_not_from_models_or_synth():
    from cpath_repro.data import tiles

    for module in ("cpath_repro.data.tiles", "cpath_repro.data.segmentation", "cpath_repro.data.transforms"):
        reached = import_closure(module)
        assert not any(m.startswith(("cpath_repro.models", "cpath_repro.synth")) for m in reached), module
    assert inspect.getmodule(tiles.Tiles) is tiles
