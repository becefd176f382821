"""The book's Performance and reliability page, written when the book is built.

- The benchmarks' last measurements, read from :data:`RESULTS`, which ``make bench`` (``python -m benchmarks``)
  writes: each a ratio of two timings taken in one run, shown with the machine, date and commit it ran on.
- This book's own time per chapter, from its run's manifests, beside the chapter's budget.
- The faults and bad inputs the test suite survives, as ``make bench`` counted them in the suite, which must pass
  for any change to land.

Nothing here measures anything: a number on the page says where it came from, and a page built before any
``make bench`` says so instead of showing a number.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cpath_repro import atomic, catalog
from cpath_repro.project import PROJECT_ROOT
from cpath_repro.results.run import read_manifest

#: Where ``make bench`` leaves its measurements (beside the runs: what this machine measured, not the project's).
RESULTS = PROJECT_ROOT / "runs" / "benchmarks.json"
#: The `default` book's budget per chapter on a 2-core machine, in minutes.
BUDGET_MINUTES = {"Foundations": 4, "Paper E": 5, "Paper A": 14, "Paper B": 16, "Paper C": 10, "Paper D": 11}
#: The test files whose tests the page counts (paths from the project root).
FAULT_TESTS = "tests/integration/test_faults.py"
BAD_INPUT_TESTS = ("tests/unit/test_bad_input.py",
                   "tests/integration/test_cli.py::test_bad_input_is_one_sentence_and_exit_2")


def record(measured: Mapping[str, Any], machine: str, commit: str, date: str, path: Path = RESULTS) -> Path:
    """Write ``make bench``'s measurements with the machine, commit and date they were taken on (atomically)."""
    atomic.write_json(path, {"machine": machine, "commit": commit, "date": date, **measured})
    return path


def read(path: Path = RESULTS) -> dict[str, Any] | None:
    """The last measurements, or None when ``make bench`` has not run here (or left something unreadable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "machine" in data else None


def chapter(notebook: str) -> str:
    """The book chapter a notebook belongs to: ``Paper A`` ... ``Paper E``, or ``Foundations``."""
    module = catalog.chapter_of(notebook).__name__.split(".")[-2]
    return f"Paper {module[-1].upper()}" if module.startswith("paper_") else "Foundations"


def chapter_minutes(results: Mapping[str, Path]) -> dict[str, float]:
    """Minutes of notebook execution per chapter, from each result's manifest (its run's own wall time)."""
    minutes: dict[str, float] = {}
    for name, result in results.items():
        wall = ((read_manifest(result) or {}).get("execution") or {}).get("wall_time_s")
        if isinstance(wall, (int, float)):
            minutes[chapter(name)] = minutes.get(chapter(name), 0.0) + wall / 60
    return minutes


def page(results: Mapping[str, Path], measured: Mapping[str, Any] | None) -> str:
    """The generated part of ``book/performance.md`` (Markdown with raw HTML figures): this book's time from the
    ``results`` it is built from, and ``measured`` (:func:`read`; None before any ``make bench``)."""
    profiles = {(read_manifest(r) or {}).get("profile") for r in results.values()}
    parts = [_book_time(results, profiles.pop() if len(profiles) == 1 else None)]
    if measured is None:
        parts.append("## The benchmarks\n\nNot measured on this machine yet: `make bench` runs them (about 15 "
                     "minutes on 2 cores, alone on the machine) and the next `make book` shows them here.\n")
    else:
        parts.append(f"## The benchmarks\n\nMeasured by `make bench` on {measured['machine']}, "
                     f"{measured['date'][:10]}, at commit `{measured['commit'][:7]}`. Each ratio compares two "
                     "timings taken in the same run (best of a few repeats), so a busy machine slows both.\n")
        parts += [draw(measured) for key, draw in SECTIONS if measured.get(key)]
        parts.append(_suite(measured.get("suite") or {}))
    return "\n".join(parts)


# -- the sections -------------------------------------------------------------------------------------------------------

def _book_time(results: Mapping[str, Path], profile: str | None) -> str:
    minutes = chapter_minutes(results)
    if not minutes:
        return "## This book's time\n\nNo notebook of this book recorded its time.\n"
    order = [c for c in BUDGET_MINUTES if c in minutes]
    budgeted = profile == "default"
    rows = "".join(f"<tr><td>{c}</td><td>{minutes[c]:.1f}</td>"
                   + (f"<td>{BUDGET_MINUTES[c]}</td>" if budgeted else "") + "</tr>" for c in order)
    head = "<th>chapter</th><th>minutes</th>" + ("<th>budget (minutes)</th>" if budgeted else "")
    total = sum(minutes.values())
    figure = _bars([(c, minutes[c]) for c in order], "minutes of notebook execution",
                   marks=[BUDGET_MINUTES[c] for c in order] if budgeted else None)
    budget = (f" against a budget of {sum(BUDGET_MINUTES.values())} minutes on 2 cores (each chapter's budget is the "
              "grey mark)" if budgeted else "")
    return (f"## This book's time\n\nThe notebooks of this book took {total:.1f} minutes in all{budget}: each "
            f"notebook's wall time as its run recorded it, from an empty model store or not, as that run went.\n\n"
            f"```{{raw}} html\n{figure}<table class='perf'><thead><tr>{head}</tr></thead><tbody>{rows}</tbody>"
            "</table>\n```\n")


def _cache(m: Mapping[str, Any]) -> str:
    c = m["cache"]
    return _section("An up-to-date notebook is not executed again",
                    f"`cpath-repro run E-F2` with its result up to date took {c['cached_s'] * 1000:.0f} ms against "
                    f"{c['executed_s']:.1f} s to execute it: **{_share(c['cached_s'] / c['executed_s'])}** of the time.",
                    [("executed (ci)", c["executed_s"]), ("up to date", c["cached_s"])], "seconds")


def _rebuild(m: Mapping[str, Any]) -> str:
    r = m["rebuild"]
    return _section("A change to code one notebook uses re-runs that notebook only",
                    f"After a full `ci` run of every notebook ({r['full_s']:.0f} s), the record of one module's code "
                    f"in {r['notebook']}'s result was changed, as an edit of a module only it uses would change it: "
                    f"`run all` then executed {r['notebook']} alone in {r['one_s']:.1f} s, "
                    f"**{_share(r['one_s'] / r['full_s'])}** of the full run; with nothing changed it took "
                    f"{r['nothing_s']:.1f} s.",
                    [("every notebook", r["full_s"]), (f"{r['notebook']} changed", r["one_s"]),
                     ("nothing changed", r["nothing_s"])], "seconds")


def _engine(m: Mapping[str, Any]) -> str:
    e = m["engine"]
    return _section("The training engine next to a bare PyTorch loop",
                    f"The same UNET, data, batches and optimizer for 3 epochs: the engine (checkpoints, history, "
                    f"determinism) took {e['engine_s']:.2f} s against {e['bare_s']:.2f} s, an overhead of "
                    f"**{e['overhead']:+.1%}**.",
                    [("bare loop", e["bare_s"]), ("the engine", e["engine_s"])], "seconds")


def _patches(m: Mapping[str, Any]) -> str:
    from cpath_repro.wsi.throughput import READERS as labels  # here, not at the top: it imports torch
    from cpath_repro.wsi.throughput import describe, describe_reader

    p = m["patches"]
    bars = [(label, p[f"{key}_per_s"]) for key, label in labels.items() if f"{key}_per_s" in p]
    ratios = "; ".join(f"{labels[k]} {describe_reader(p, k)}" for k in list(labels)[1:] if f"{k}_ratio" in p)
    # the float32 batches' extra time over the bare read's; what two loader workers gain over none, where no target
    # states it (a record from before 2026-12-07)
    conversion = 1 / p["bare_batches_ratio"] - 1 if "bare_batches_ratio" in p else None
    workers = (p["loader_2_per_s"] / p["loader_0_per_s"]
               if {"loader_0_per_s", "loader_2_per_s"} <= p.keys() and "targets" not in p else None)
    also = (f" Converting to float32 batches costs {conversion:.0%} of the read's own time." if conversion else "") + (
        f" Two DataLoader workers read {workers:.2f}× as fast as none." if workers else "") + (
        " Given all the slide's patches in one call, read_patches writes them into new memory, which the kernel maps "
        "and zeroes as it is first written; in batches it writes into one array, as the bare loop reuses "
        "OpenSlide's buffer." if "read_patches_whole_ratio" in p else "")
    targets = "".join(f"\n- {t['target']}: **{t['verdict']}**, {describe(t['ratio'], t['low'], t['high'])}"
                      for t in p.get("targets", []))
    if targets:
        targets = ("\n\nThe targets, each decided by where the 95 % interval of its median paired ratio lies (the "
                   "rule was fixed before the run; the record of choices on *How to read* says when and why):"
                   + targets)
    turns = ("the bare loop, the bare float loop and read_patches in batches read one pass together, taking turns "
             "batch by batch; then the other readers read a whole pass each" if "in_turns" in p
             else "the readers took turns")
    how = (f"In each of {p['rounds']} rounds {turns}. Patches/s is each reader's median round, and its speed a ratio "
           "to the bare loop's: the median of the rounds' paired ratios [95 % interval]"
           if "rounds" in p else "Each reader was timed by its fastest round; patches/s, and as a ratio to the bare loop")
    return _section("Patch reading next to a bare OpenSlide loop",
                    f"{int(p['patches']):,} patches of {int(p['patch_px'])} px read from a pyramidal TIFF, each pass "
                    f"with a cold OpenSlide cache. {how}: {ratios}.{also}{targets}", bars, "patches/s")


def _memory(m: Mapping[str, Any]) -> str:
    ratios = [(f"{method}, N={4 * n:,} / N={n:,}", ratio) for method, n, ratio in m["memory"]["ratios"]]
    return _section("Peak memory of paper D's two trainings as N grows",
                    "One training step of End-to-End Learning and of plain back-propagation, each in a fresh "
                    "process: peak memory growth at 4N patches over that at N (claim D-C3 asks End-to-End Learning to "
                    "stay below 1.25; plain back-propagation grows with N).",
                    ratios, "peak memory growth, 4N / N", marks=[1.25] * len(ratios))


def _ci(m: Mapping[str, Any]) -> str:
    walls = sorted(m["ci_notebooks"], key=lambda w: -w[1])
    quickest = min(s for _, s in walls)
    return _section("Each `ci` notebook in seconds",
                    f"Every notebook under the `ci` profile, from an empty model store: {sum(s for _, s in walls):.0f} s "
                    f"in all; the quickest ({quickest:.1f} s) is mostly a kernel starting; the slowest ten are shown.",
                    [(name, s) for name, s in walls[:10]], "seconds")


def _speedups(m: Mapping[str, Any]) -> str:
    rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>" for k, v in m["speedups"])
    return ("### The speed-ups behind papers B and D's budgets\n\nEach is new time / old time, measured in one run.\n\n"
            f"```{{raw}} html\n<table class='perf'><tbody>{rows}</tbody></table>\n```\n")


#: Each benchmark's key in :data:`RESULTS` and the section that shows it, in page order.
SECTIONS = (("cache", _cache), ("rebuild", _rebuild), ("engine", _engine), ("patches", _patches),
            ("memory", _memory), ("ci_notebooks", _ci), ("speedups", _speedups))


def _suite(suite: Mapping[str, Sequence[str]]) -> str:
    faults, bad = list(suite.get("faults") or []), list(suite.get("bad_inputs") or [])
    if not faults and not bad:
        return ""
    items = "".join(f"<li>{html.escape(_words(t))}</li>" for t in faults)
    return ("## Faults survived, bad inputs refused\n\n"
            f"Faults survived: **{len(faults)}** (`{FAULT_TESTS}`). Bad inputs refused with one sentence and exit "
            f"status 2, nothing written: **{len(bad)}** ("
            + ", ".join(f"`{t}`" for t in BAD_INPUT_TESTS) + "). The suite must pass for any change to land; "
            "these are the counts `make bench` found in it.\n\n"
            f"```{{raw}} html\n<details><summary>The faults</summary><ul>{items}</ul></details>\n```\n")


def _words(test_id: str) -> str:
    """``test_faults.py::test_a_full_disk_at_commit[x]`` as ``a full disk at commit (x)``."""
    name = test_id.split("::")[-1].removeprefix("test_")
    name, _, case = name.partition("[")
    return name.replace("_", " ") + (f" ({case.rstrip(']')})" if case else "")


def _share(x: float) -> str:
    """A small fraction with three decimals, or as many as its first two digits need (0.0002 read "0.000")."""
    return f"{x:.{max(3, 1 - math.floor(math.log10(x))) if x > 0 else 3}f}"


# -- drawing --------------------------------------------------------------------------------------------------------------

def _section(title: str, sentence: str, bars: Sequence[tuple[str, float]], unit: str,
             marks: Sequence[float] | None = None) -> str:
    return f"### {title}\n\n{sentence}\n\n```{{raw}} html\n{_bars(bars, unit, marks)}\n```\n"


def _bars(bars: Sequence[tuple[str, float]], unit: str, marks: Sequence[float] | None = None) -> str:
    """Horizontal bars drawn for the text column (inline SVG), each labelled with its value; ``marks``: a grey
    tick per bar (a budget, a threshold)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from cpath_repro import viz
    from cpath_repro.claims.forest import as_svg

    fig = Figure(figsize=(viz.COLUMN_INCHES, 0.32 * len(bars) + 0.7))
    ax = fig.add_subplot()
    labels, values = [label for label, _ in bars], [float(v) for _, v in bars]
    ax.barh(range(len(bars)), values, color="#4c72b0", height=0.6)
    for i, value in enumerate(values):
        ax.annotate(f"{value:,.3g}", (value, i), xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)
    for i, mark in enumerate(marks or []):
        ax.plot([mark, mark], [i - 0.4, i + 0.4], color="#777", linewidth=2)
    ax.set_yticks(range(len(bars)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(unit, fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
    ax.set_xlim(0, max([*values, *(marks or [])]) * 1.18)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return f"<div class='perf-figure'>{as_svg(fig)}</div>"
