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


@pytest.mark.parametrize("name", list(catalog.NOTEBOOKS))
def test_notebook_is_thin(name):
    """No training loop, dataset class or metric is defined in a notebook."""
    source = "\n".join(c.source for c in nbformat.read(catalog.NOTEBOOKS[name].path, as_version=4).cells
                       if c.cell_type == "code")
    defined = [n for n in ast.walk(ast.parse(source))
               if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    assert not defined, f"{name} defines {defined[0].name}"  # type: ignore[union-attr]
    for forbidden in (".backward(", "optimizer.step("):
        assert forbidden not in source
