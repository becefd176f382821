"""Where a number came from: profile, parameters, data, code, libraries, device, time."""

from __future__ import annotations

import html
import platform
import sys
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from cpath_repro import __version__
from cpath_repro.project import git_state, package_source_hash

#: Libraries whose versions decide the numbers (read from package metadata, not imported).
LIBRARIES = (
    "torch",
    "torchvision",
    "numpy",
    "scipy",
    "scikit-image",
    "scikit-learn",
    "pandas",
    "matplotlib",
    "captum",
    "grad-cam",
    "openslide-python",
    "openslide-bin",
    "tifffile",
    "papermill",
    "jupyter-book",
)


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def device_description() -> str:
    """The compute device, e.g. ``"CPU: AMD EPYC 7B13 (2 cores, torch on 1 thread)"`` or ``"CUDA: NVIDIA H100"``:
    a CPU's thread count is part of it, since kernels run beside each other share the cores."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        return f"CUDA: {torch.cuda.get_device_name(0)} (x{torch.cuda.device_count()})"
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import os

    threads = f", torch on {torch.get_num_threads()} thread(s)" if torch is not None else ""
    return f"CPU: {model} ({os.cpu_count()} cores{threads})"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def synthetic_source(generator: str, seed: int | list[int], **settings: Any) -> dict[str, Any]:
    """Describe synthetic data: the generator, its settings and its seed."""
    return {"kind": "synthetic", "generator": generator, "seed": seed, "settings": settings}


def collect(started: str, wall_s: float, data_sources: list[dict[str, Any]]) -> dict[str, Any]:
    """The provenance block of a manifest."""
    commit, dirty = git_state()
    return {
        "package_version": __version__,
        "package_source_sha256": package_source_hash(),
        "git_commit": commit,
        "git_dirty": dirty,
        "libraries": library_versions(),
        "device": device_description(),
        "started": started,
        "wall_time_s": round(wall_s, 3),
        "data_sources": data_sources,
    }


def data_kind(sources: list[dict[str, Any]]) -> str:
    """"synthetic data", "real data" or both: the label a verdict or a table carries."""
    kinds = sorted({"real data" if s["kind"] == "real" else "synthetic data" for s in sources})
    return " and ".join(kinds) or "no data"


def describe_data(sources: list[dict[str, Any]]) -> str:
    """One line for a page: "synthetic data: generator (seed 0, ...)"; "real data: path (n files)"."""
    parts = []
    for source in sources:
        if source["kind"] == "synthetic":
            settings = "".join(f", {k}={v}" for k, v in source.get("settings", {}).items())
            seeds = source["seed"]
            seed_text = f"seeds {', '.join(map(str, seeds))}" if isinstance(seeds, list) else f"seed {seeds}"
            parts.append(f"synthetic data: {source['generator']} ({seed_text}{settings})")
        else:
            parts.append(f"real data: {source['root']} ({len(source['files'])} files, SHA-256 of each in the manifest)")
    return "; ".join(parts) or "no data"


class Footer:
    """The provenance footer every page shows (HTML, so Jupyter and the book render it alike)."""

    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest

    def rows(self) -> list[tuple[str, str]]:
        m = self.manifest
        p = m["provenance"]
        libs = ", ".join(f"{k} {v}" for k, v in p["libraries"].items() if v != "not installed")
        params = ", ".join(f"{k}={v!r}" for k, v in m["params"].items())
        commit = p["git_commit"][:12] + (" (with uncommitted changes)" if p["git_dirty"] else "")
        return [
            ("Profile", m["profile"]),
            ("Parameters", params or "none"),
            ("Data", describe_data(p["data_sources"])),
            ("Code", f"cpath-repro {p['package_version']}, git {commit}, package source {p['package_source_sha256'][:12]}"),
            ("Libraries", libs),
            ("Device", p["device"]),
            ("Run", f"started {p['started']}, wall time {p['wall_time_s']:.1f} s"),
        ]

    def parameters_html(self) -> str:
        """Every parameter the page ran with, one ``name = value`` each (the parameters cell shows ``None``
        for "the profile's value"; this is the value used)."""
        params = self.manifest["params"]
        return " · ".join(f"<code style='white-space:nowrap'>{html.escape(f'{k}={v!r}')}</code>"
                          for k, v in params.items()) or "none"

    def _repr_html_(self) -> str:
        cells = {"Parameters": self.parameters_html()}
        body = "".join(
            f"<tr><th style='text-align:left;vertical-align:top;padding-right:1em'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{cells.get(k, html.escape(v))}</td></tr>"
            for k, v in self.rows()
        )
        return f"<div class='provenance'><p><b>Provenance of the numbers on this page</b></p><table>{body}</table></div>"

    def __repr__(self) -> str:
        return "\n".join(f"{k}: {v}" for k, v in self.rows())
