"""Each notebook's parameters cell declares exactly the catalog's names, each defaulting to None."""

import ast

import nbformat
import pytest

from cpath_repro import catalog
from cpath_repro.profiles import COMMON_NAMES


@pytest.mark.parametrize("name", list(catalog.NOTEBOOKS))
def test_parameters_cell_matches_catalog(name):
    spec = catalog.NOTEBOOKS[name]
    nb = nbformat.read(spec.path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assigned = {}
    for node in ast.parse(tagged[0].source).body:
        assert isinstance(node, ast.Assign), "the parameters cell only assigns"
        assigned[node.targets[0].id] = ast.literal_eval(node.value)
    assert set(assigned) == set(COMMON_NAMES) | set(spec.params)
    assert assigned["profile"] == "default"
    assert all(v is None for k, v in assigned.items() if k != "profile")


#: What a notebook cell may not hold: the logic it would hide (a loop, a comprehension, a function) lives in the
#: chapter's modules, where it is typed, tested and part of the cache key.
LOGIC = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.For, ast.AsyncFor, ast.While,
         ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def logic_in(source: str) -> list[str]:
    """The loops, comprehensions, lambdas and definitions in notebook code, as "line N: kind"."""
    found = sorted((n.lineno, type(n).__name__) for n in ast.walk(ast.parse(source)) if isinstance(n, LOGIC))
    return [f"line {line}: {kind}" for line, kind in found]


def test_the_thin_notebook_check_sees_loops_comprehensions_and_lambdas():
    assert logic_in("x = [a for a in b]\nf = lambda v: v\nfor i in x:\n    pass") == [
        "line 1: ListComp", "line 2: Lambda", "line 3: For"]
    assert logic_in("display(readable(table, decimals=2))\nif PRESENT:\n    run.finish()") == []


@pytest.mark.parametrize("name", list(catalog.NOTEBOOKS))
def test_notebook_is_thin(name):
    """No loop, comprehension, lambda, training step, dataset class or metric is written in a notebook."""
    source = "\n".join(c.source for c in nbformat.read(catalog.NOTEBOOKS[name].path, as_version=4).cells
                       if c.cell_type == "code")
    assert logic_in(source) == [], f"{name} holds logic that belongs in its chapter's modules"
    for forbidden in (".backward(", "optimizer.step("):
        assert forbidden not in source
