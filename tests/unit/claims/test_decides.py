"""Every claim declares what could decide it; every mapped knob is a real notebook parameter of its claim's notebook."""

import pytest

from cpath_repro.claims import decides
from cpath_repro.claims.registry import CLAIMS
from cpath_repro.pipeline import sweeps

#: The claims issue 22 names as decidable by a knob (at least these have maps).
MAPPED = {"D-C1", "D-C2", "C-C2", "C-C7", "B-C1", "B-C2", "A-C6"}


def test_every_claim_declares_its_mechanism_and_knobs():
    assert set(decides.DECIDES) == set(CLAIMS)
    for claim, d in decides.DECIDES.items():
        assert len(d.mechanism) > 40 and len(d.knobs) > 20, claim


def test_the_named_claims_have_maps():
    assert MAPPED <= set(decides.mapped())


@pytest.mark.parametrize("claim", sorted(decides.mapped()))
def test_a_knob_is_its_notebooks_parameter_with_three_values_around_the_default(claim: str):
    knob = decides.mapped()[claim]
    spec = sweeps.notebook_of(claim)
    assert knob.setting in spec.params and spec.name.startswith(knob.chapter)
    assert len(knob.values) == 3 and list(knob.values) == sorted(knob.values)
    assert knob.default() in knob.values  # the book's own run is one cell
    for value in knob.values:  # every cell is a value the notebook accepts
        spec.params[knob.setting].parse(sweeps.value_text(value), spec.name)
    # the declaration states the default it gives a reason for, so the two cannot drift apart
    assert sweeps.value_text(knob.default()) in decides.get(claim).knobs


def test_claims_that_compare_the_same_models_share_their_runs():
    m = decides.mapped()
    assert m["D-C1"] == m["D-C2"] and m["B-C1"] == m["B-C2"]
    assert sweeps.notebook_of("D-C1") == sweeps.notebook_of("D-C2")


def test_an_unknown_claim_or_one_without_a_knob_is_one_sentence():
    from cpath_repro.errors import UserError

    with pytest.raises(UserError, match="Unknown claim"):
        sweeps.knob_of("Z-C1")
    with pytest.raises(UserError, match="no map"):
        sweeps.knob_of("D-C3")


def test_the_worlds_knobs_default_to_their_generators_declared_values():
    """The chapters' settings give the knobs (the catalog must not import generators), the generators keep the
    same values as their defaults for direct callers: one value, checked here."""
    from cpath_repro.synth import cervix, slides

    c, d = decides.settings_of("C").of_profile("default"), decides.settings_of("D").of_profile("default")
    assert (c.zone_reach, c.os_mucus) == (cervix.ZONE_REACH, cervix.OS_MUCUS)
    assert d.lowres_contrast == slides.LOWRES_CONTRAST
