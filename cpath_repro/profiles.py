"""The three profiles, the typed parameters every notebook declares, and a notebook's declaration.

A profile is a set of defaults: ``ci`` runs every code path in seconds, ``default`` is what
``make book`` shows, ``paper`` uses the real data and the papers' own settings. Any
parameter can still be overridden; values are validated here, before any work starts, so a
bad value stops a run with one sentence instead of a traceback later. Each chapter declares
its notebooks (:class:`NotebookSpec`) beside its code; :mod:`cpath_repro.catalog` gathers them.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Self

from cpath_repro.data import layout
from cpath_repro.errors import DataNotFoundError, ParameterError


@dataclass(frozen=True)
class Profile:
    """A named set of defaults and what it is for."""

    name: str
    data: str
    purpose: str


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("ci", "synthetic, generated on the fly", "tests and CI: every code path runs, numbers are meaningless"),
        Profile(
            "default",
            "synthetic (embedded)",
            "what `make book` shows: big enough for the papers' qualitative effects, several seeds",
        ),
        Profile("paper", "the real datasets under data_root", "the papers' own settings, for users with the data and GPUs"),
    )
}

#: Names every notebook's parameters cell has besides its own parameters.
COMMON_NAMES = ("profile", "run_dir")

_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false", Path: "a path",
               list: "whole numbers separated by commas (e.g. 20,60,200)"}


@dataclass(frozen=True)
class Param:
    """One overridable notebook parameter.

    ``defaults`` maps each profile to its value; ``check`` returns an error phrase for an
    impossible value (e.g. ``"must be at least 1"``) or ``None`` when the value is fine.
    ``type=list`` is a list of whole numbers, given on the command line as ``20,60,200``.
    """

    name: str
    type: type
    doc: str
    defaults: Mapping[str, Any]
    check: Callable[[Any], str | None] | None = None
    choices: tuple[Any, ...] = ()
    optional: bool = False  # None is an allowed value (e.g. data_root)

    def default(self, profile: str) -> Any:
        return self.defaults.get(profile)

    def parse(self, text: str, notebook: str) -> Any:
        """Convert a command-line string to this parameter's type (strictly)."""
        if self.optional and text.lower() in ("none", "null", ""):
            return None
        try:
            if self.type is bool:
                lowered = text.lower()
                if lowered not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(text)
                return lowered in ("true", "1", "yes")
            if self.type is Path:
                return text
            if self.type is list:
                return [int(part) for part in text.split(",")]
            return self.type(text)
        except ValueError:
            raise ParameterError(
                f"Parameter '{self.name}' of notebook '{notebook}' must be {_TYPE_NAMES[self.type]}, got {text!r}."
            ) from None

    def validate(self, value: Any, notebook: str) -> Any:
        """Return the value, normalised, or raise :class:`ParameterError` in one sentence."""
        if value is None:
            if self.optional:
                return None
            raise ParameterError(f"Parameter '{self.name}' of notebook '{notebook}' needs a value ({self.doc}).")
        expected = self.type
        ok = (
            isinstance(value, bool)
            if expected is bool
            else isinstance(value, (int, float)) and not isinstance(value, bool)
            if expected is float
            else isinstance(value, (str, Path))
            if expected is Path
            else isinstance(value, (list, tuple)) and bool(value)
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            if expected is list
            else isinstance(value, expected) and not isinstance(value, bool)
        )
        if not ok:
            raise ParameterError(
                f"Parameter '{self.name}' of notebook '{notebook}' must be {_TYPE_NAMES[expected]}, "
                f"got {value!r} ({type(value).__name__})."
            )
        if expected is float:
            value = float(value)
        if expected is Path:
            value = str(Path(value).expanduser())
        if expected is list:
            value = list(value)
        if self.choices and value not in self.choices:
            raise ParameterError(
                f"Parameter '{self.name}' of notebook '{notebook}' must be one of "
                f"{', '.join(map(str, self.choices))}; got {value!r}."
            )
        if self.check is not None:
            problem = self.check(value)
            if problem:
                raise ParameterError(f"Parameter '{self.name}' of notebook '{notebook}' {problem}; got {value!r}.")
        return value


def between(low: float, high: float) -> Callable[[Any], str | None]:
    """A check for ``low <= value <= high``."""

    def check(value: Any) -> str | None:
        return None if low <= value <= high else f"must be between {low} and {high}"

    return check


def at_least(low: float) -> Callable[[Any], str | None]:
    """A check for ``value >= low``."""

    def check(value: Any) -> str | None:
        return None if value >= low else f"must be at least {low}"

    return check


def each_between(low: int, high: int) -> Callable[[Any], str | None]:
    """A check for a list of whole numbers, each ``low <= n <= high``."""

    def check(values: Any) -> str | None:
        return None if all(low <= v <= high for v in values) else f"must hold numbers between {low} and {high}"

    return check


def same(value: Any) -> dict[str, Any]:
    """The same default for every profile."""
    return {name: value for name in PROFILES}


#: NumPy's and torch's generators take seeds below 2**32 everywhere: a larger one failed deep inside a notebook
SEED = Param("seed", int, "seed of the synthetic data and of training", same(0), between(0, 2**32 - 1))
DATA_ROOT = Param(
    "data_root", Path, "folder holding the real data (required by the paper profile)", same(None), optional=True
)


@dataclass(frozen=True)
class DataRequirement:
    """The real datasets a notebook reads from ``data_root`` (names of :data:`cpath_repro.data.layout.DATASETS`).

    With one dataset it must be present; with several, those present are used and the page
    lists the ones skipped, but at least one must be there.
    """

    datasets: tuple[str, ...]

    def locate(self, root: str | Path) -> dict[str, Path]:
        """The dataset folders under ``root``, or one sentence saying what was expected where."""
        if len(self.datasets) == 1:
            return {self.datasets[0]: layout.locate(root, self.datasets[0])}
        found = layout.available(root, self.datasets)
        if not found:
            raise DataNotFoundError(f"data_root '{root}' holds none of {', '.join(self.datasets)} "
                                    "(one folder per dataset, under its published name).")
        return found

    def describe(self) -> str:
        return "; ".join(f"{layout.DATASETS[n].what} in data_root/{n}/ ({layout.DATASETS[n].layout})"
                         for n in self.datasets)


@dataclass(frozen=True)
class Resolved:
    """A notebook's validated parameters for one profile."""

    notebook: str
    profile: str
    values: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None


def check_profile(profile: Any) -> str:
    if profile not in PROFILES:
        raise ParameterError(f"Unknown profile {profile!r}; choose one of {', '.join(PROFILES)}.")
    return str(profile)


def resolve(
    notebook: str,
    params: Mapping[str, Param],
    profile: str,
    overrides: Mapping[str, Any],
    data: DataRequirement | None = None,
) -> Resolved:
    """Profile defaults + overrides, each validated; ``None`` overrides mean "the profile's value"."""
    profile = check_profile(profile)
    unknown = sorted(set(overrides) - set(params))
    if unknown:
        known = ", ".join(sorted(params)) or "none"
        raise ParameterError(
            f"Notebook '{notebook}' has no parameter {unknown[0]!r}; its parameters are: {known}."
        )
    values: dict[str, Any] = {}
    for name, param in params.items():
        given = overrides.get(name)
        values[name] = param.validate(param.default(profile) if given is None else given, notebook)
    if data is not None:
        root = values.get("data_root")
        if root is None and profile == "paper":
            raise ParameterError(
                f"Notebook '{notebook}' with the paper profile reads real data: pass -p data_root DIR, "
                f"a folder holding {data.describe()}."
            )
        if root is not None:
            data.locate(root)  # before any kernel starts: a wrong folder is one sentence now
    return Resolved(notebook, profile, values)


_PARAM = "cpath_repro.param"


def param(doc: str, defaults: Mapping[str, Any], check: Callable[[Any], str | None] | None = None,
          choices: tuple[Any, ...] = (), parse: Callable[[str], Any] | None = None) -> Any:
    """Declare a chapter setting as a notebook parameter, once: a field of a :class:`Settings` dataclass.

    The field's name is the parameter's name and its annotation its type (``int``, ``float``,
    ``str``, ``bool``, ``tuple[int, ...]`` given as ``20,60,200``, ``Path | None`` for a folder);
    ``defaults`` maps each profile to its value, ``check`` returns an error phrase for an impossible
    value. A richer value is given as text and ``parse`` turns it into the field's value (e.g.
    ``"ADP,CRC"`` into ``("ADP", "CRC")``): the parameter is then a string, checked as text.
    Everything else (the ``cpath-repro list`` table, validation, the settings object a notebook
    gets) is derived from it.
    """
    return field(metadata={_PARAM: (doc, dict(defaults), check, choices, parse)})


def _param_type(annotation: Any) -> tuple[type, bool]:
    """``(Param.type, optional)`` of a settings field's annotation."""
    args = typing.get_args(annotation)
    if isinstance(annotation, types.UnionType) and type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        return _param_type(inner)[0], True
    if typing.get_origin(annotation) is tuple:
        return list, False
    return annotation, False


@dataclass(frozen=True)
class Settings:
    """A chapter's settings: its notebook parameters, declared once as fields (:func:`param`), validated.

    A chapter subclasses it (a frozen dataclass) and adds what it derives from the parameters as
    properties; its notebooks get an instance from :func:`cpath_repro.notebook.start`, tests one from
    :meth:`of_profile`.
    """

    #: the run's profile (not a parameter: every notebook has it)
    profile: str

    @classmethod
    def params(cls) -> dict[str, Param]:
        """The notebook parameters the fields declare, in declaration order."""
        hints = typing.get_type_hints(cls)
        out = {}
        for f in fields(cls):
            if _PARAM in f.metadata:
                doc, defaults, check, choices, parse = f.metadata[_PARAM]
                kind, optional = (str, False) if parse is not None else _param_type(hints[f.name])
                out[f.name] = Param(f.name, kind, doc, defaults, check, choices, optional)
        return out

    @classmethod
    def from_resolved(cls, resolved: Resolved) -> Self:
        """The settings of validated parameters: a list becomes a tuple, a folder a :class:`~pathlib.Path`, a
        parsed parameter what its ``parse`` makes of the text."""
        parsers = {f.name: f.metadata[_PARAM][4] for f in fields(cls) if _PARAM in f.metadata}
        values: dict[str, Any] = {}
        for name, p in cls.params().items():
            value, parse = resolved[name], parsers[name]
            values[name] = (parse(value) if parse is not None else tuple(value) if p.type is list
                            else Path(value) if p.type is Path and value else value)
        return cls(profile=resolved.profile, **values)

    @classmethod
    def of_profile(cls, profile: str, **overrides: Any) -> Self:
        """The settings a notebook gets under ``profile`` with these overrides (validated the same way)."""
        return cls.from_resolved(resolve(cls.__name__, cls.params(), profile, overrides))

    @property
    def seeds(self) -> list[int]:
        """The paired seeds ``0 .. n_seeds - 1`` (for settings with an ``n_seeds`` parameter)."""
        return list(range(getattr(self, "n_seeds")))  # noqa: B009 (a field of the chapter's subclass, not of this one)

    @property
    def data(self) -> str:
        """What the numbers rest on, decided here once: "real data" when a ``data_root`` is given, else
        "synthetic data" (the label tables, verdicts and pages carry)."""
        return "synthetic data" if getattr(self, DATA_ROOT.name, None) is None else "real data"


def data_root_param() -> Any:
    """The ``data_root`` field of a chapter that reads real data (:data:`DATA_ROOT`): ``None`` means synthetic data."""
    return param(DATA_ROOT.doc, DATA_ROOT.defaults)


@dataclass(frozen=True)
class NotebookSpec:
    """A chapter notebook: one paper section (a table or a figure group), declared beside its chapter's code."""

    name: str
    title: str
    part: str
    artifacts: tuple[str, ...]
    description: str
    #: the chapter's settings class (its fields declare the parameters), or the parameters themselves for a
    #: notebook whose settings are just its parameters
    settings: type[Settings] | Mapping[str, Param]
    data: DataRequirement | None = None
    #: cross-parameter rule: returns an error phrase for an impossible combination
    constraint: Callable[[Mapping[str, Any]], str | None] | None = None
    claims: tuple[str, ...] = field(default=())

    @property
    def params(self) -> Mapping[str, Param]:
        return self.settings if isinstance(self.settings, Mapping) else self.settings.params()

    @property
    def path(self) -> Path:
        from cpath_repro.project import NOTEBOOK_DIR

        return NOTEBOOK_DIR / f"{self.name}.ipynb"

    def resolve(self, profile: str, overrides: Mapping[str, Any]) -> Resolved:
        resolved = resolve(self.name, self.params, profile, overrides, self.data)
        if self.constraint is not None:
            problem = self.constraint(resolved.values)
            if problem:
                raise ParameterError(f"Notebook '{self.name}': {problem}.")
        return resolved

    def data_folders(self, values: Mapping[str, Any]) -> dict[str, Path]:
        """The real dataset folders this notebook reads with these parameters (none for synthetic data)."""
        root = values.get("data_root")
        return self.data.locate(root) if self.data is not None and root is not None else {}


def params(*declared: Param) -> dict[str, Param]:
    """A notebook's parameters by name."""
    return {p.name: p for p in declared}
