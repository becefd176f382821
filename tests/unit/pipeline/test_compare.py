"""Two runs compared: identical tables, tables that differ only in model keys, moved numbers."""

from __future__ import annotations

import json
from pathlib import Path

from cpath_repro.cli import main
from cpath_repro.pipeline import compare

KEY_A, KEY_B = "0" * 24, "f" * 24


def _result(run_dir: Path, name: str, tables: dict[str, str], metrics: dict[str, float] | None = None) -> None:
    result = run_dir / name
    (result / "tables").mkdir(parents=True)
    for table, text in tables.items():
        (result / "tables" / f"{table}.csv").write_text(text)
    (result / "manifest.json").write_text(json.dumps({"notebook": name, "status": "complete", "claims": [],
                                                            "metrics": metrics or {}}))


def test_compare_tells_same_numbers_from_other_keys_and_from_moved_numbers(tmp_path: Path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    _result(a, "X", {"same": "seed,f1\n0,0.5\n", "keys": f"seed,f1,model\n0,0.5,{KEY_A}\n", "moved": "f1,s\n0.5,1.0\n"},
            {"dice": 0.8, "count": 3})
    _result(b, "X", {"same": "seed,f1\n0,0.5\n", "keys": f"seed,f1,model\n0,0.5,{KEY_B}\n", "moved": "f1,s\n0.5,2.0\n"},
            {"dice": 0.8, "count": 4})
    _result(a, "Y", {"t": "v\n1\n"})
    result = compare.compare(a, b)
    assert result.identical == ["X/tables/same.csv"]
    assert result.other_keys == ["X/tables/keys.csv"]
    assert result.different == {"X/tables/moved.csv": ["s"], "X/metrics": ["count"]}
    assert result.only_in_one == ["Y/tables/t.csv"] and not result.same
    assert main(["compare", str(a), str(b)]) == 1
    assert "different: X/tables/moved.csv (columns: s)" in capsys.readouterr().out
    assert main(["compare", str(a), str(a)]) == 0
    assert main(["compare", str(a), str(tmp_path / "nowhere")]) == 2
