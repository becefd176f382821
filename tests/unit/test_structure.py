"""The layout keeps its promises: chapters declare their notebooks, data constants live with the data,
and what every notebook imports (the catalog) reaches no chapter's code."""

from __future__ import annotations

import ast
import inspect
import json
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter

from cpath_repro import catalog
from cpath_repro.project import PACKAGE_DIR, _imported_names, import_closure, module_file, package_modules


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
    chapter_code = [m for m in reached if m.startswith("cpath_repro.chapters.") and m.count(".") > 2
                    and not m.endswith((".notebooks", ".settings"))]
    assert chapter_code == [], "a change to a chapter's code must not make every notebook stale"
    # (paper A's parameter check reads the synthetic generator's memory model, so synth.tissue may be reached)
    assert not any(m.startswith(("cpath_repro.train", "cpath_repro.models")) for m in reached)


def test_data_loaders_take_class_names_and_containers_from_data_not_from_models_or_synth():
    from cpath_repro.data import tiles

    for module in ("cpath_repro.data.tiles", "cpath_repro.data.segmentation", "cpath_repro.data.transforms"):
        reached = import_closure(module)
        assert not any(m.startswith(("cpath_repro.models", "cpath_repro.synth")) for m in reached), module
    assert inspect.getmodule(tiles.Tiles) is tiles


def test_layers_import_downwards_only():
    """Real-data loaders know no generator (synthetic writers live in synth/), models know no transfer recipe or
    dataset, and nothing below the notebooks imports a chapter, lazily or not."""
    graph = _package_imports()
    below = {"cpath_repro.data": ("cpath_repro.synth", "cpath_repro.models", "cpath_repro.chapters"),
             "cpath_repro.models": ("cpath_repro.transfer", "cpath_repro.data", "cpath_repro.chapters"),
             "cpath_repro.synth": ("cpath_repro.chapters",), "cpath_repro.train": ("cpath_repro.chapters",)}
    wrong = sorted(f"{m} -> {n}" for m, named in graph.items() for layer, banned in below.items()
                   if m.startswith(layer + ".") for n in named if n.startswith(banned))
    assert wrong == []


def _package_imports() -> dict[str, set[str]]:
    """Module -> the package modules its import statements name (lazy ones included), parents left out."""
    graph = {}
    for path in PACKAGE_DIR.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        named = package_modules(_imported_names(ast.parse(path.read_bytes()), name, path.name == "__init__.py"))
        graph[name] = {m for m in named if module_file(m) is not None and m != name and not name.startswith(m + ".")}
    return graph


def test_the_package_has_no_import_circle():
    try:
        TopologicalSorter(_package_imports()).prepare()
    except CycleError as exc:
        raise AssertionError(f"import circle: {' -> '.join(exc.args[1])}") from None


def test_the_results_store_knows_neither_the_catalog_nor_the_claims():
    reached = import_closure("cpath_repro.results.run")
    assert not [m for m in reached if m.startswith(("cpath_repro.catalog", "cpath_repro.claims", "cpath_repro.chapters"))]


#: What importing the catalog may load besides the chapters' declarations: shared leaves only, so that a
#: notebook's kernel (which imports the catalog to find its declaration) keys its result on nothing else.
SHARED_LEAVES = {"cpath_repro", "cpath_repro.catalog", "cpath_repro.chapters", "cpath_repro.profiles",
                 "cpath_repro.errors", "cpath_repro.data", "cpath_repro.data.layout", "cpath_repro.data.adp_format"}


def test_importing_the_catalog_loads_only_the_declarations_and_shared_leaves():
    code = "import json, sys; import cpath_repro.catalog; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    extra = [m for m in package_modules(loaded) if m not in SHARED_LEAVES
             and not (m.startswith("cpath_repro.chapters.") and (m.count(".") == 2
                                                                 or m.endswith((".notebooks", ".settings"))))]
    assert extra == [], "a chapter's declarations import more than shared leaves: every page would be keyed on it"
    ignored = catalog.lookup_modules("C-T8")
    assert "cpath_repro.catalog" in ignored and "cpath_repro.chapters.paper_d.settings" in ignored
    assert {c.__name__ for c in catalog.CHAPTERS} - ignored == {"cpath_repro.chapters.paper_c.notebooks"}
    assert not any(m.startswith("cpath_repro.chapters.paper_c") for m in ignored)


def test_no_training_recipe_reads_the_words_a_reader_sees():
    """A recipe's import closure keys its models: notebook declarations and parameter meanings stay out of it."""
    recipes = sorted({f"cpath_repro.{p.relative_to(PACKAGE_DIR).with_suffix('').as_posix().replace('/', '.')}"
                      for p in PACKAGE_DIR.rglob("*.py") if "store.Recipe(" in p.read_text("utf-8")})
    assert {"cpath_repro.chapters.paper_d.training", "cpath_repro.transfer.pretraining"} <= set(recipes)
    for recipe in recipes:
        closure = import_closure(recipe)
        assert "cpath_repro.catalog" not in closure, recipe
        assert "cpath_repro.pipeline.cluster" not in closure, f"{recipe}: where a model trains is not part of its key"
        assert not [m for m in closure if m.endswith((".notebooks", ".settings"))], recipe


def test_a_chapter_recipe_reaches_no_other_chapter_or_paper_metrics():
    """Editing one chapter, or renaming one paper's claim metric, changes that chapter's model keys only."""
    recipes = [f"cpath_repro.chapters.paper_{p}.training" for p in "abcd"]
    for recipe in recipes:
        own = recipe.split(".")[2]
        reached = import_closure(recipe)
        others = [m for m in reached if m.startswith(("cpath_repro.chapters.", "cpath_repro.claims.metrics."))
                  and m.split(".")[2] != own and m.split(".")[-1] != own]
        assert others == [], f"{recipe} reaches {others}"


def _seed_arithmetic(tree: ast.AST) -> list[int]:
    """Lines deriving random state by hand: arithmetic on a seed, or a tuple handed to numpy's seeding."""
    def is_seed(node: ast.AST) -> bool:
        return (isinstance(node, ast.Name) and node.id == "seed") or (isinstance(node, ast.Attribute)
                                                                      and node.attr == "seed")
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mult | ast.Sub) and (
                is_seed(node.left) or is_seed(node.right)):
            found.append(node.lineno)
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"default_rng", "SeedSequence"} and node.args
                and isinstance(node.args[0], ast.List | ast.Tuple)):
            found.append(node.lineno)
    return found


def test_random_state_is_derived_one_way():
    """Offsets like ``seed * 100_000 + k`` collide and shift when a draw is added: streams come from seeds.py."""
    assert _seed_arithmetic(ast.parse("g = torch.Generator().manual_seed(seed * 1000 + epoch)")) == [1]
    assert _seed_arithmetic(ast.parse("rng = np.random.default_rng([seed, 7])")) == [1]
    offenders = {}
    for path in PACKAGE_DIR.rglob("*.py"):
        if path.name != "seeds.py" and (lines := _seed_arithmetic(ast.parse(path.read_text("utf-8")))):
            offenders[str(path.relative_to(PACKAGE_DIR))] = lines
    assert offenders == {}
