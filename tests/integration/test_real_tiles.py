"""Paper A on one's own tile folder: every verdict says what data it rests on, and a claim that needs the
generator's ground truth is not testable on real tiles (with the reason), never scored on synthetic slides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cpath_repro.claims import scorecard
from cpath_repro.claims.rules import Status
from cpath_repro.data.tiles import write_tile_folder
from cpath_repro.pipeline import execute
from cpath_repro.synth import tissue
from tests.support import JOBS, once

pytestmark = pytest.mark.integration
PAPER_A = ["A-T1", "A-T2", "A-F6", "A-F8"]


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real-layout tile folder (tiles.csv, tiles/, labels/; the pixels happen to be generated) run under ci."""
    def make(run_dir: Path) -> None:
        root = tmp_path_factory.mktemp("own") / "multistain-tiles"
        cfg = tissue.TissueConfig(canvas=64, tile=32, difficulty=0.4)
        for split, seed in (("train", 7), ("test", 8)):
            slides = tissue.make_slides(seed, split, ["H&E", "Ki67/CD3"], 2, cfg)
            write_tile_folder(tissue.cut_tiles(slides, 32), root, split)
        execute.run(PAPER_A, "ci", [("data_root", str(root.parent))], run_dir, progress=False, echo=lambda *_: None,
                    jobs=JOBS)

    return once(tmp_path_factory, "run-real-tiles", make)  # one per session, whichever worker asks first


def test_every_paper_a_verdict_on_real_tiles_is_labelled_real(real_run: Path):
    verdicts = {v.claim.id: v for v in scorecard.verdicts(real_run) if v.claim.paper == "A"}
    assert set(verdicts) == {f"A-C{i}" for i in range(1, 8)}
    for claim_id, v in verdicts.items():
        assert v.data == "real data", f"{claim_id} is labelled {v.data!r}"
    for claim_id in ("A-C5", "A-C6"):
        assert verdicts[claim_id].status is Status.NOT_TESTABLE
        assert "which real slides do not have" in verdicts[claim_id].evidence
    for claim_id in ("A-C1", "A-C2", "A-C3", "A-C4", "A-C7"):  # measured on the real tiles (ci: too few seeds)
        assert "real slides do not have" not in verdicts[claim_id].evidence
        assert (real_run / verdicts[claim_id].notebook / "claims" / f"{claim_id}.csv").stat().st_size > 0


def test_no_paper_a_page_on_real_tiles_reads_synthetic_slides(real_run: Path):
    for name in PAPER_A:
        sources = json.loads((real_run / name / "manifest.json").read_text())["provenance"]["data_sources"]
        assert sources and all(s["kind"] == "real" for s in sources), name


def test_the_real_he_check_runs_on_the_cmu_slide(real_run: Path):
    manifest = json.loads((real_run / "A-F6" / "manifest.json").read_text())
    assert any(s["root"].endswith("data/real/cmu") for s in manifest["provenance"]["data_sources"])
    assert manifest["metrics"]["real_he_check"] == Status.UNDECIDABLE.value
    assert "1 paired seed" in manifest["metrics"]["real_he_check_evidence"]  # ci runs one seed
