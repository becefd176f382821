"""Paper C on a Kaggle-layout folder: the pages run, every verdict is labelled real data, the claim that needs
the true transformation zone is not testable (with the reason), and the submission CSV is Kaggle's format.

The run leaves out C-T2 and C-T6: they carry no claim and train through ``run_arms`` as the claim pages do, so
on real data they would repeat a path the others take (about 40 CPU-seconds of the suite's slowest setup)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PIL import Image

from cpath_repro.chapters.paper_c.notebooks import NOTEBOOKS
from cpath_repro.claims import scorecard
from cpath_repro.claims.rules import Status
from cpath_repro.pipeline import execute
from cpath_repro.synth import cervix
from tests.support import JOBS, once

pytestmark = pytest.mark.integration
#: The pages run on the Kaggle folder: all of paper C but the two claimless ones (see the module docstring).
PAGES = [spec.name for spec in NOTEBOOKS if spec.name not in ("C-T2", "C-T6")]


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Kaggle's layout (train/Type_k, additional/Type_k, test/) of JPEGs; the pixels happen to be generated."""
    def make(run_dir: Path) -> None:
        root = tmp_path_factory.mktemp("own")
        folder = root / "intel-mobileodt-cervical-cancer-screening"
        for subset, kind, n in (("train", "initial", 45), ("additional", "additional", 30)):
            for image in cervix.make_set(kind, n, 3, (120, 160)):
                path = folder / subset / image.type_name / f"{image.index}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(image.image).save(path)
        (folder / "test").mkdir()
        for image in cervix.make_set("test", 4, 3, (120, 160)):
            Image.fromarray(image.image).save(folder / "test" / f"{image.index}.jpg")
        whole = sorted((folder / "train" / "Type_2").glob("*.jpg"))[0].read_bytes()
        (folder / "train" / "Type_2" / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
        execute.run(PAGES, "ci", [("data_root", str(root))], run_dir, progress=False, echo=lambda *_: None, jobs=JOBS)

    return once(tmp_path_factory, "run-real-cervix", make)  # one per session, whichever worker asks first


def test_every_paper_c_verdict_on_real_data_is_labelled_real(real_run: Path) -> None:
    verdicts = {v.claim.id: v for v in scorecard.verdicts(real_run) if v.claim.paper == "C"}
    assert set(verdicts) == {f"C-C{i}" for i in range(1, 8)}
    assert all(v.data.startswith("real data") for v in verdicts.values()), {k: v.data for k, v in verdicts.items()}
    assert verdicts["C-C7"].status is Status.NOT_TESTABLE
    assert "which real photographs do not have" in verdicts["C-C7"].evidence


def test_no_paper_c_page_on_real_data_reads_synthetic_images(real_run: Path) -> None:
    for name in PAGES:
        sources = json.loads((real_run / name / "manifest.json").read_text())["provenance"]["data_sources"]
        assert sources and all(s["kind"] == "real" for s in sources), name


def test_the_submission_names_every_test_image_with_probabilities_summing_to_one(real_run: Path) -> None:
    with (real_run / "C-T8" / "tables" / "submission.csv").open() as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["image_name", "Type_1", "Type_2", "Type_3"]
    assert sorted(r[0] for r in rows[1:]) == ["0.jpg", "1.jpg", "2.jpg", "3.jpg"]
    assert all(abs(sum(map(float, r[1:])) - 1.0) < 1e-6 for r in rows[1:])


def test_the_truncated_jpeg_is_skipped_and_named_on_the_page(real_run: Path) -> None:
    with (real_run / "C-T1" / "tables" / "unreadable.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["file"] for r in rows] == ["train/Type_2/truncated.jpg"]
