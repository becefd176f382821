import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from cpath_repro.errors import ParameterError, UserError  # noqa: E402
from cpath_repro.results.run import MANIFEST, read_manifest  # noqa: E402
from tests.support import open_run as start  # noqa: E402


def test_nothing_is_visible_until_finish_and_manifest_is_complete(tmp_path):
    run = start("E-F3", "ci", tmp_path, trials=5)
    run.use_synthetic("gen", 0, size=4)
    run.save_table("t", pd.DataFrame({"x": [1, 2]}))
    fig, _ = plt.subplots()
    run.save_figure("f", fig)
    assert not (tmp_path / "E-F3").exists()
    footer = run.finish()
    result = tmp_path / "E-F3"
    manifest = json.loads((result / MANIFEST).read_text())
    assert manifest["status"] == "complete" and manifest["params"]["trials"] == 5
    assert (result / "tables" / "t.csv").read_text().splitlines() == ["x", "1", "2"]
    assert (result / "figures" / "f.png").stat().st_size > 0 and (result / "figures" / "f.svg").exists()
    assert not list((tmp_path / ".staging").iterdir())
    prov = manifest["provenance"]
    for key in ("package_version", "git_commit", "git_dirty", "libraries", "device", "started", "wall_time_s"):
        assert key in prov
    assert prov["libraries"]["torch"].startswith("2.")
    assert "synthetic data: gen (seed 0, size=4)" in footer._repr_html_()


def test_an_unfinished_run_leaves_no_result(tmp_path):
    run = start("E-F2", "ci", tmp_path)
    run.save_table("t", pd.DataFrame({"x": [1]}))
    del run  # the kernel died before finish()
    assert read_manifest(tmp_path / "E-F2") is None


def test_a_new_result_replaces_the_old_one_whole(tmp_path):
    first = start("E-F2", "ci", tmp_path)
    first.save_table("old_only", pd.DataFrame({"x": [1]}))
    first.finish()
    second = start("E-F2", "ci", tmp_path)
    second.save_table("new", pd.DataFrame({"x": [2]}))
    second.finish()
    assert sorted(p.name for p in (tmp_path / "E-F2" / "tables").iterdir()) == ["new.csv", "new.json"]


def test_finish_twice_is_refused(tmp_path):
    run = start("E-F2", "ci", tmp_path)
    run.finish()
    with pytest.raises(UserError, match="already finished"):
        run.finish()


def test_bad_parameters_fail_before_anything_is_written(tmp_path):
    with pytest.raises(ParameterError):
        start("E-F2", "ci", tmp_path / "run", row=99)
    assert not (tmp_path / "run").exists()


def test_unwritable_run_dir_is_one_sentence(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(UserError, match="is not writable"):
        start("E-F2", "ci", blocker / "run")


def test_use_files_records_each_checksum(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.bin").write_bytes(b"abc")
    run = start("E-F2", "ci", tmp_path / "run")
    run.use_files(tmp_path / "d", [tmp_path / "d" / "a.bin"])
    manifest = run.finish().manifest
    files = manifest["provenance"]["data_sources"][0]["files"]
    assert files == {"a.bin": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}
