"""``cpath-repro``: list notebooks, run them with papermill, say what is stale, build the book, print the scorecard.

Bad input ends with one sentence on stderr and exit status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from cpath_repro.errors import UserError
from cpath_repro.profiles import PROFILES


def _list(args: argparse.Namespace) -> None:
    from cpath_repro import catalog
    from cpath_repro.pipeline.execute import describe_params

    for spec in catalog.NOTEBOOKS.values():
        print(f"{spec.name}  [{', '.join(spec.artifacts)}]  {spec.title}")
        print(f"    {spec.description}")
        if spec.claims:
            print(f"    claims: {', '.join(spec.claims)}")
        if spec.data:
            print(f"    paper profile reads: {spec.data.describe()}")
        header = ["name", "type", *PROFILES, "meaning"]
        rows = [[r[h] if h != "meaning" else r["doc"] for h in header] for r in describe_params(spec)]
        widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
        for row in [header, *rows]:
            print("    " + "  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=False)).rstrip())
        print()


class _NotebookOutputOnly(logging.Filter):
    """Keep the notebook's own output (prints, tqdm lines); drop papermill's per-cell chatter."""

    NOISE = ("Executing Cell", "Ending Cell", "Input Notebook", "Output Notebook", "Working directory",
             "Executing notebook with kernel", "Kernel is running over TCP", "<Figure size", "<pandas.io.formats")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return bool(message.strip()) and not any(noise in message for noise in self.NOISE)


def _run(args: argparse.Namespace) -> None:
    from cpath_repro.pipeline import execute

    if not args.quiet:
        handler = logging.StreamHandler()
        handler.addFilter(_NotebookOutputOnly())
        logging.basicConfig(format="    %(message)s", level=logging.WARNING, handlers=[handler])
        logging.getLogger("papermill").setLevel(logging.INFO)  # streams the notebook's own output and tqdm lines
    done = execute.run(args.notebooks, args.profile, args.param or [], args.run_dir, args.force,
                       progress=not args.quiet, jobs=args.jobs, scheduler=args.scheduler)
    ran = sum(1 for _, how, _ in done if how == "ran")
    print(f"{ran} executed, {len(done) - ran} up to date")


def _status(args: argparse.Namespace) -> None:
    from cpath_repro.pipeline import execute

    rows = execute.status(args.notebooks, args.profile, args.param or [], args.run_dir)
    for name, reasons in rows:
        print(f"{name:18} " + ("up to date" if not reasons else f"stale: {execute.describe_reasons(reasons)}"))
    retrain = sorted({r for _, reasons in rows for r in reasons if r.startswith("model ")})
    stale = sum(1 for _, reasons in rows if reasons)
    print(f"\n{stale} of {len(rows)} would be executed; {len(retrain)} model(s) would be trained or retrained"
          + "".join(f"\n  {r}" for r in retrain))


def _compare(args: argparse.Namespace) -> int:
    from cpath_repro.pipeline import compare

    result = compare.compare(args.a, args.b)
    print(compare.as_text(result, args.a, args.b))
    return 0 if result.same else 1


def _existing_run_dir(args: argparse.Namespace) -> Path:
    """The run folder ``build`` and ``claims`` read, refused before they import the book's machinery or the claims'
    (about 3 s) when it does not exist."""
    from cpath_repro.project import default_run_dir

    run_dir = Path(args.run_dir or default_run_dir(args.profile))
    if not run_dir.is_dir():
        raise UserError(f"Run directory '{run_dir}' does not exist; create it with "
                        f"`cpath-repro run all --run-dir {run_dir}`.")
    return run_dir


def _build(args: argparse.Namespace) -> None:
    run_dir = _existing_run_dir(args)
    from cpath_repro.pipeline import book

    index = book.build(run_dir, args.out)
    print(f"Book built: {index}")


def _claims(args: argparse.Namespace) -> None:
    run_dir = _existing_run_dir(args)
    from cpath_repro.claims import scorecard
    from cpath_repro.results.run import check_files

    check_files(run_dir)
    print(scorecard.as_text(scorecard.verdicts(run_dir)))


def _run_dirs(args: argparse.Namespace) -> list[Path]:
    """The runs whose results keep models alive: ``--run-dir`` (repeatable), else every run under ``runs/``; each
    with the sensitivity maps' runs beside it (``RUN_DIR/sweeps/*``)."""
    import os

    from cpath_repro.pipeline.sweeps import SWEEPS
    from cpath_repro.project import PROJECT_ROOT, RUN_DIR_ENV
    from cpath_repro.train.store import store_root

    if args.run_dir:
        candidates = list(args.run_dir)
    else:
        runs = PROJECT_ROOT / "runs"
        candidates = sorted(runs.iterdir()) if runs.is_dir() else []
        if os.environ.get(RUN_DIR_ENV):  # a run kept elsewhere
            candidates.append(Path(os.environ[RUN_DIR_ENV]))
        candidates = [p for p in candidates if p.is_dir() and p.resolve() != store_root().resolve()]
    cells = [cell for run in candidates for cell in sorted((Path(run) / SWEEPS).glob("*")) if cell.is_dir()]
    return list(dict.fromkeys([*candidates, *cells]))


def _sweep(args: argparse.Namespace) -> None:
    from cpath_repro.pipeline import sweeps
    from cpath_repro.project import default_run_dir

    run_dir = args.run_dir or default_run_dir(args.profile)
    done = sweeps.run(args.claims, run_dir, args.profile, echo=(lambda _: None) if args.quiet else print)
    ran = sum(1 for _, how, _ in done if how == "ran")
    print(f"{ran} executed, {len(done) - ran} up to date")
    for claim in sweeps.wanted(args.claims):
        print(f"{claim}: {sweeps.read_map(claim, run_dir).summary()}")


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.0f} KiB"


def _store(args: argparse.Namespace) -> None:
    from cpath_repro.results.run import model_references
    from cpath_repro.train import store

    run_dirs = _run_dirs(args)
    refs = model_references(run_dirs)
    entries = list(store.entries())
    where = f"{store.store_root()} (runs read: {', '.join(map(str, run_dirs)) or 'none'})"
    if args.action == "prune":  # it removes what no run it reads uses: a run it cannot read would be a guess
        kept = sum(1 for e in entries if e.key in refs)
        missing = [str(d) for d in args.run_dir or [] if not Path(d).is_dir()]
        if missing or not run_dirs:
            what = (f"run folder '{missing[0]}' does not exist" if missing else
                    "no run folder was found under runs/ (or $CPATH_REPRO_RUN_DIR)")
            raise UserError(f"Nothing was pruned: {what}, so the models its results use cannot be told from unused "
                            f"ones; name every run that keeps models with --run-dir (the runs read now keep {kept} "
                            f"of {len(entries)} models).")
    if args.action == "list":
        print(f"Model store {where}")
        for e in entries:
            config = e.config
            what = ", ".join(f"{k}={config[k]}" for k in ("chapter", "arch", "backbone", "stains", "seed") if k in config)
            used = ", ".join(refs.get(e.key, [])) or "no run (prune removes it)"
            print(f"  {e.key}  {_size(e.bytes):>10}  {e.recipe}  {what}\n      used by: {used}")
        total = sum(e.bytes for e in entries)
        print(f"{len(entries)} models, {_size(total)}; {sum(1 for e in entries if e.key in refs)} used by a run")
        return
    removed, freed = store.prune(set(refs))
    for e in removed:
        print(f"  removed {e.key}  {_size(e.bytes)}  {e.recipe}")
    print(f"Pruned {where}: {len(removed)} model(s) removed, {_size(freed)} freed; {len(entries) - len(removed)} kept")


def _heatmap(args: argparse.Namespace) -> None:
    from cpath_repro.chapters.paper_d.apply import apply

    written = apply(args.slide, args.model, args.out or Path(args.slide).parent, mpp=args.mpp,
                    progress=not args.quiet)
    resampled = (f" (each read {written.resampled:.2f}x finer and shrunk to the model's resolution)"
                 if written.resampled != 1 else "")
    print(f"{written.patches} patches{resampled}, {written.tumour_patches} predicted tumour; wrote {written.png} and "
          f"{written.tiff}")


def _cluster(args: argparse.Namespace) -> None:
    import time

    from cpath_repro.pipeline import cluster

    if args.kind == "gpu-node":
        started = cluster.gpu_node()
    else:
        started = cluster.slurm(gpus_per_job=args.gpus_per_job, cpus_per_job=args.cpus_per_job, memory=args.memory,
                                walltime=args.walltime, queue=args.queue, account=args.account,
                                prologue=args.prologue or ())
        started.scale(jobs=args.jobs)
    with started:
        print(f"scheduler: {started.scheduler_address}\ndashboard: {started.dashboard_link}\n"
              f"in another shell: cpath-repro run all --profile paper --scheduler {started.scheduler_address}\n"
              "Ctrl-C stops the cluster.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("cluster stopped")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cpath-repro", description=__doc__.splitlines()[0] if __doc__ else None)
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("list", help="every notebook, its artifacts and parameters").set_defaults(func=_list)

    run = sub.add_parser("run", help="execute notebooks with papermill into a run directory")
    run.add_argument("notebooks", nargs="+", metavar="NOTEBOOK", help="notebook names, or 'all'")
    run.add_argument("--profile", choices=list(PROFILES), default="default")
    run.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"),
                     help="override one parameter (repeatable)")
    run.add_argument("--run-dir", type=Path, help="where results go (default: runs/<profile>)")
    run.add_argument("--force", action="store_true", help="re-execute even when up to date")
    run.add_argument("--quiet", action="store_true", help="no progress output")
    run.add_argument("--jobs", type=int, default=1, metavar="N",
                     help="execute up to N notebooks at once (default 1) and train their models on a local Dask "
                     "cluster; a model two of them need is trained once")
    run.add_argument("--scheduler", metavar="ADDRESS",
                     help="train the models on the running Dask cluster at ADDRESS (e.g. tcp://node:8786)")
    run.set_defaults(func=_run)

    status = sub.add_parser("status", help="which results are up to date, which are stale and why (executes nothing)")
    status.add_argument("notebooks", nargs="*", default=["all"], metavar="NOTEBOOK", help="notebook names (default: all)")
    status.add_argument("--profile", choices=list(PROFILES), default="default")
    status.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"),
                        help="the overrides a `run` would get (repeatable)")
    status.add_argument("--run-dir", type=Path, help="the run to check (default: runs/<profile>)")
    status.set_defaults(func=_status)

    comp = sub.add_parser("compare", help="whether two runs have the same tables, claim tables and verdicts "
                          "(exit status 1 when not)")
    comp.add_argument("a", type=Path, help="a run directory")
    comp.add_argument("b", type=Path, help="another run directory")
    comp.set_defaults(func=_compare)

    for name, func, text in (("build", _build, "build the book from a run"),
                             ("claims", _claims, "print the claims scorecard of a run")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--run-dir", type=Path, help="the run to read (default: runs/<profile>)")
        cmd.add_argument("--profile", choices=list(PROFILES), default="default")
        if name == "build":
            cmd.add_argument("--out", type=Path, help="output folder (default: _build; the book is OUT/html)")
        cmd.set_defaults(func=func)

    sweep = sub.add_parser("sweep", help="a claim's sensitivity map: its notebook run at each value of the knob "
                           "that could decide it (RUN_DIR/sweeps/), each cell judged like the book")
    sweep.add_argument("claims", nargs="+", metavar="CLAIM", help="claim ids with a declared knob, or 'all'")
    sweep.add_argument("--profile", choices=list(PROFILES), default="default")
    sweep.add_argument("--run-dir", type=Path, help="the book's run; its maps go to RUN_DIR/sweeps (default: "
                       "runs/<profile>)")
    sweep.add_argument("--quiet", action="store_true", help="no progress output")
    sweep.set_defaults(func=_sweep)

    heat = sub.add_parser("heatmap", help="a trained paper D model's tumour heatmap of any OpenSlide-readable slide")
    heat.add_argument("slide", type=Path, help="the slide (.svs, .tif, .ndpi, .mrxs, ...)")
    heat.add_argument("--model", type=Path, required=True,
                      help="a paper D end-to-end model-store entry, runs/models/<key> (the D-T1 and D-T2 pages list them)")
    heat.add_argument("--out", type=Path, help="folder for <slide>_heatmap.png and .tif (default: beside the slide)")
    heat.add_argument("--mpp", type=float, help="microns per level-0 pixel, for a slide that does not record them "
                      "(a slide at another resolution than the model's is resampled to it)")
    heat.add_argument("--quiet", action="store_true", help="no progress bar")
    heat.set_defaults(func=_heatmap)

    clu = sub.add_parser("cluster", help="start a Dask cluster for the trainings of `run --scheduler` and print its "
                         "address (Ctrl-C stops it)")
    clu.add_argument("kind", choices=("gpu-node", "slurm"),
                     help="gpu-node: one worker per GPU of this machine (dask-cuda); slurm: SLURM jobs (dask-jobqueue)")
    clu.add_argument("--jobs", type=int, default=1, help="slurm: jobs to start, one worker each (default 1)")
    clu.add_argument("--gpus-per-job", type=int, default=1, help="slurm: GPUs per job (default 1)")
    clu.add_argument("--cpus-per-job", type=int, default=8, help="slurm: cores per job (default 8)")
    clu.add_argument("--memory", default="32GB", help="slurm: memory per job (default 32GB)")
    clu.add_argument("--walltime", default="24:00:00", help="slurm: time limit per job (default 24:00:00)")
    clu.add_argument("--queue", help="slurm: partition")
    clu.add_argument("--account", help="slurm: account")
    clu.add_argument("--prologue", action="append", metavar="LINE",
                     help="slurm: a shell line each job runs first, e.g. 'source ~/cpath-repro/.venv/bin/activate' "
                     "(repeatable)")
    clu.set_defaults(func=_cluster)

    models = sub.add_parser("store", help="the trained-model store: list it, or prune what no run uses")
    models.add_argument("action", choices=("list", "prune"),
                        help="list: each model, its size and the results that use it; prune: remove the unused ones")
    models.add_argument("--run-dir", type=Path, action="append",
                        help="a run whose results keep their models (repeatable; default: every run under runs/)")
    models.set_defaults(func=_store)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code = args.func(args)
    except UserError as exc:
        print(f"cpath-repro: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("cpath-repro: interrupted; finished results are kept, the unfinished one was not committed.",
              file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
