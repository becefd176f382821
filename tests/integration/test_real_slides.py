"""Paper D on a data root holding the Camelyon16 and Camelyon17 layouts (the slides happen to be generated, the
stomach biopsies are absent): the Camelyon pages run on those folders, their verdicts are labelled real data,
and the stomach pages' claims are not testable, saying which folder is missing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cpath_repro.chapters.paper_d.notebooks import NOTEBOOKS
from cpath_repro.claims import scorecard
from cpath_repro.claims.rules import Status
from cpath_repro.pipeline import execute
from cpath_repro.synth import slide_folders
from cpath_repro.synth.slides import Geometry
from tests.support import JOBS, once

pytestmark = pytest.mark.integration
PAGES = ["D-T1", "D-T2", "D-T3"]


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    def make(run_dir: Path) -> None:
        root = tmp_path_factory.mktemp("own")
        geometry = Geometry(2.0, 36)
        slide_folders.write_camelyon16(root / "CAMELYON16", geometry=geometry, seed=7, n_tumour=2, n_normal=2, n_test=2,
                                       tumour_classes=("micro", "itc"), map_patches=16)
        patients = [["negative"] * 5, ["itc"] + ["negative"] * 4, ["micro"] * 2 + ["negative"] * 3,
                    ["micro"] + ["negative"] * 4, ["itc"] * 2 + ["negative"] * 3]
        slide_folders.write_camelyon17(root / "CAMELYON17", patients, geometry=geometry, seed=7, map_patches=16)
        execute.run(PAGES, "ci", [("data_root", str(root))], run_dir, progress=False, echo=lambda *_: None, jobs=JOBS)

    return once(tmp_path_factory, "run-real-slides", make)  # one per session, whichever worker asks first


def test_camelyon_pages_read_the_real_folders_and_stomach_claims_are_not_testable(real_run: Path) -> None:
    verdicts = {v.claim.id: v for v in scorecard.verdicts(real_run) if v.claim.id in ("D-C1", "D-C2", "D-C5")}
    assert verdicts["D-C1"].status is Status.NOT_TESTABLE and "no stomach-biopsies/ folder" in verdicts["D-C1"].evidence
    assert verdicts["D-C5"].data.startswith("real data")
    for name in ("D-T2", "D-T3"):
        sources = json.loads((real_run / name / "manifest.json").read_text())["provenance"]["data_sources"]
        assert sources and all(s["kind"] == "real" for s in sources), name
    assert (real_run / "D-T2" / "tables" / "D-T2.csv").is_file()


def test_the_paper_profile_names_the_data_it_needs() -> None:
    spec = next(s for s in NOTEBOOKS if s.name == "D-T2")
    with pytest.raises(Exception, match="CAMELYON16"):
        spec.resolve("paper", {})
