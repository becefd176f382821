"""The three profiles and the typed parameters every notebook declares.

A profile is a set of defaults (SPEC section 1): ``ci`` runs every code path in seconds,
``default`` is what ``make book`` shows, ``paper`` uses the real data and the papers' own
settings. Any parameter can still be overridden; values are validated here, before any
work starts, so a bad value stops a run with one sentence instead of a traceback later.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false", Path: "a path"}


@dataclass(frozen=True)
class Param:
    """One overridable notebook parameter.

    ``defaults`` maps each profile to its value; ``check`` returns an error phrase for an
    impossible value (e.g. ``"must be at least 1"``) or ``None`` when the value is fine.
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


def same(value: Any) -> dict[str, Any]:
    """The same default for every profile."""
    return {name: value for name in PROFILES}


SEED = Param("seed", int, "seed of the synthetic data and of training", same(0), at_least(0))
DATA_ROOT = Param(
    "data_root", Path, "folder holding the real data (required by the paper profile)", same(None), optional=True
)


@dataclass(frozen=True)
class DataRequirement:
    """What real data a notebook reads from ``data_root``, described for error messages."""

    what: str
    layout: str


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
    if data is not None and profile == "paper":
        root = values.get("data_root")
        if root is None:
            raise ParameterError(
                f"Notebook '{notebook}' with the paper profile reads {data.what}: "
                f"pass -p data_root DIR, a folder laid out as {data.layout}."
            )
        if not Path(root).is_dir():
            raise DataNotFoundError(
                f"Notebook '{notebook}' expects {data.what} in data_root {root!r}, which is not a folder "
                f"(expected layout: {data.layout})."
            )
    return Resolved(notebook, profile, values)
