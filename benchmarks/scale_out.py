"""The book run serially and with ``--jobs N`` (trainings on a local Dask cluster), timed in one session.

Each run starts from nothing: its own run directory, model store, slides and crops, so that both train every
model. Prints the two wall times, their ratio, the training tasks each chapter submitted (the parallel run's task
logs) and whether the two runs committed the same tables and verdicts. On 2 cores, parallel is not expected to win,
but must not lose more than 10 %::

    python -m benchmarks.scale_out --profile default --jobs 2 [NOTEBOOK ...] [--work DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

from cpath_repro.chapters.paper_b.data import CROPS_ENV
from cpath_repro.chapters.paper_d.data import SLIDES_ENV
from cpath_repro.pipeline import execute
from cpath_repro.pipeline.compare import compare
from cpath_repro.project import environment
from cpath_repro.train.store import STORE_ENV


def timed_run(notebooks: list[str], profile: str, jobs: int, work: Path) -> float:
    """Wall seconds of ``run NOTEBOOKS --profile PROFILE --jobs JOBS`` into ``work``, from an empty store."""
    with environment({STORE_ENV: str(work / "models"), SLIDES_ENV: str(work / "slides"), CROPS_ENV: str(work / "crops")}):
        t0 = time.perf_counter()
        execute.run(notebooks, profile, [], work / "run", echo=lambda line: print(f"  {line}", flush=True),
                    progress=False, jobs=jobs)
        return time.perf_counter() - t0


def tasks_per_chapter(run_dir: Path) -> Counter[str]:
    """Training tasks each chapter submitted, from their logs (``train-<chapter>-<key>.log``)."""
    return Counter(p.name.split("-")[1] for p in (run_dir / "logs" / "trainings").glob("train-*.log"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", default=["all"])
    parser.add_argument("--profile", default="default")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--work", type=Path, help="keep both runs here (default: a temporary folder)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        print(f"serial run ({args.profile}):", flush=True)
        serial = timed_run(args.notebooks, args.profile, 1, work / "serial")
        print(f"--jobs {args.jobs} run ({args.profile}):", flush=True)
        parallel = timed_run(args.notebooks, args.profile, args.jobs, work / f"jobs{args.jobs}")
        same = compare(work / "serial" / "run", work / f"jobs{args.jobs}" / "run")
        tasks = tasks_per_chapter(work / f"jobs{args.jobs}" / "run")
    rows = [
        (f"{args.profile}: serial", f"{serial / 60:.1f} min"),
        (f"{args.profile}: --jobs {args.jobs}", f"{parallel / 60:.1f} min"),
        (f"--jobs {args.jobs} / serial", f"{parallel / serial:.3f}"),
        ("training tasks per chapter", ", ".join(f"{c} {n}" for c, n in sorted(tasks.items())) or "none"),
        ("same tables and verdicts", f"{same.same} ({len(same.identical)} identical, {len(same.different)} different, "
                                     f"{len(same.verdicts)} verdicts differ)"),
    ]
    for key, value in rows:
        print(f"{key:32}  {value}")


if __name__ == "__main__":
    main()
