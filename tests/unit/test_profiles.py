import pytest

from cpath_repro import catalog
from cpath_repro.errors import DataNotFoundError, ParameterError
from cpath_repro.profiles import PROFILES


def test_three_profiles_defined_once():
    assert list(PROFILES) == ["ci", "default", "paper"]


def test_profile_defaults_and_override():
    spec = catalog.get("stains")
    assert spec.resolve("ci", {}).size == 64
    assert spec.resolve("default", {}).size == 192
    assert spec.resolve("ci", {"size": 100}).size == 100


def test_none_means_the_profile_value():
    assert catalog.get("stains").resolve("ci", {"size": None}).size == 64


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"sizee": 3}, "has no parameter 'sizee'"),
        ({"size": "big"}, "must be an integer"),
        ({"size": 2.5}, "must be an integer"),
        ({"size": True}, "must be an integer"),
        ({"size": 0}, "must be between 16 and 4096"),
        ({"jitter": -1.0}, "must be between 0.0 and 20.0"),
    ],
)
def test_bad_parameters_stop_with_one_sentence(overrides, message):
    with pytest.raises(ParameterError, match=message) as info:
        catalog.get("stains").resolve("ci", overrides)
    assert "\n" not in str(info.value)


def test_unknown_profile_and_notebook():
    with pytest.raises(ParameterError, match="Unknown profile 'fast'"):
        catalog.get("stains").resolve("fast", {})
    with pytest.raises(ParameterError, match="Unknown notebook 'A-T9'"):
        catalog.get("A-T9")


def test_paper_profile_without_data_root_names_what_it_expects():
    with pytest.raises(ParameterError, match="pass -p data_root DIR, a folder holding your own stained RGB tiles"):
        catalog.get("stains").resolve("paper", {})


def test_paper_profile_with_missing_data_root_folder(tmp_path):
    with pytest.raises(DataNotFoundError, match="not a folder"):
        catalog.get("stains").resolve("paper", {"data_root": str(tmp_path / "nope")})


def test_cross_parameter_constraints():
    with pytest.raises(ParameterError, match="outside the 5x5 feature map"):
        catalog.get("E-F2").resolve("ci", {"row": 5})
    with pytest.raises(ParameterError, match="must be nine characters"):
        catalog.get("E-F2").resolve("ci", {"kernel": "12"})
    with pytest.raises(ParameterError, match="multiple of window"):
        catalog.get("E-F3").resolve("ci", {"image_size": 5})


def test_cli_string_parsing_is_strict():
    size = catalog.get("stains").params["size"]
    assert size.parse("12", "stains") == 12
    with pytest.raises(ParameterError, match="must be an integer, got '1.5'"):
        size.parse("1.5", "stains")


def test_a_list_of_integers_parameter_parses_and_validates():
    sizes = catalog.get("E-F1").params["sizes"]
    assert sizes.parse("20,60,200", "E-F1") == [20, 60, 200]
    assert catalog.get("E-F1").resolve("ci", {"sizes": [30, 90]}).sizes == [30, 90]
    with pytest.raises(ParameterError, match="must be whole numbers separated by commas"):
        sizes.parse("20,sixty", "E-F1")
    with pytest.raises(ParameterError, match="must be whole numbers separated by commas"):
        catalog.get("E-F1").resolve("ci", {"sizes": "20,60"})
    with pytest.raises(ParameterError, match="between 10 and 100000"):
        catalog.get("E-F1").resolve("ci", {"sizes": [5, 60]})


def test_a_settings_field_is_the_one_declaration_of_its_parameter():
    from dataclasses import dataclass
    from pathlib import Path

    from cpath_repro import profiles
    from cpath_repro.profiles import between, data_root_param, param, same

    @dataclass(frozen=True)
    class Chapter(profiles.Settings):
        epochs: int = param("training epochs", {"ci": 1, "default": 3, "paper": 250}, between(1, 10))
        sizes: tuple[int, ...] = param("sizes", same([20, 60]))
        mode: str = param("mode", same("a"), choices=("a", "b"))
        data_root: Path | None = data_root_param()

    declared = Chapter.params()
    assert list(declared) == ["epochs", "sizes", "mode", "data_root"], "profile is not a parameter"
    assert [p.type for p in declared.values()] == [int, list, str, Path]
    assert declared["data_root"].optional and not declared["epochs"].optional
    resolved = profiles.resolve("X", declared, "default", {"sizes": [5, 7], "data_root": "~/d"})
    s = Chapter.from_resolved(resolved)
    assert (s.profile, s.epochs, s.sizes, s.mode) == ("default", 3, (5, 7), "a")
    assert s.data_root == Path("~/d").expanduser()
    assert Chapter.from_resolved(profiles.resolve("X", declared, "ci", {})).data_root is None
    with pytest.raises(ParameterError, match="'epochs' of notebook 'X' must be between 1 and 10"):
        profiles.resolve("X", declared, "ci", {"epochs": 11})
    with pytest.raises(ParameterError, match="must be one of a, b"):
        profiles.resolve("X", declared, "ci", {"mode": "c"})
