"""A notebook run the way Jupyter runs it: a plain kernel, the parameters cell's own defaults."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from cpath_repro import catalog
from cpath_repro.project import NOTEBOOK_DIR, RUN_DIR_ENV

pytestmark = pytest.mark.integration


def test_plain_kernel_run_writes_the_same_results_as_papermill(ci_run: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(RUN_DIR_ENV, str(tmp_path))  # where Jupyter's run puts results (default: runs/<profile>)
    nb = nbformat.read(catalog.get("E-F2").path, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK_DIR)}}).execute()
    assert os.environ[RUN_DIR_ENV] == str(tmp_path)
    manifest = json.loads((tmp_path / "E-F2" / "manifest.json").read_text())
    assert manifest["profile"] == "default"  # the parameters cell's own default
    assert manifest["tables"] == ["checks"] and manifest["figures"] == ["convolution"]
    # E-F2's parameters are the same in every profile, so its numbers must equal the papermill run's
    ours = (tmp_path / "E-F2" / "tables" / "checks.csv").read_text()
    assert ours == (ci_run / "E-F2" / "tables" / "checks.csv").read_text()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert any("image/png" in o.get("data", {}) for o in outputs), "figures show inline"
    assert any("Provenance" in o.get("data", {}).get("text/html", "") for o in outputs)
