"""Claims resting on pretraining are not testable when the stand-in did not pretrain their backbone."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from cpath_repro.claims import pretraining, scorecard
from cpath_repro.claims.rules import Status


def _result(run_dir: Path, name: str, metrics: dict, claims: dict[str, pd.DataFrame], used: dict[str, str]) -> None:
    folder = run_dir / name
    (folder / "claims").mkdir(parents=True)
    for claim_id, table in claims.items():
        table.to_csv(folder / "claims" / f"{claim_id}.csv", index=False)
    (folder / "manifest.json").write_text(json.dumps({
        "status": "complete", "claims": list(claims), "metrics": metrics, "pretraining": used,
        "provenance": {"data_sources": [{"kind": "synthetic"}]}}))


TWO_STAGE_WINS = pd.DataFrame([{"seed": s, "arm": arm, "unit": unit, "metric": "top1_accuracy",
                                "value": 90 + s % 2 if arm == "two-stage" else 80}
                               for s in range(3) for arm in ("two-stage", "single-stage") for unit in ("BACH", "GlaS")])


def _verdict(tmp_path: Path, used: dict[str, str], probe: dict | None) -> scorecard.Verdict:
    _result(tmp_path, "B-T3", {}, {"B-C4": TWO_STAGE_WINS}, used)
    if probe is not None:
        _result(tmp_path, pretraining.NOTEBOOK, {"stand_in": probe}, {}, {})
    return next(v for v in scorecard.verdicts(tmp_path) if v.claim.id == "B-C4")


def test_a_stand_in_that_did_not_pretrain_makes_the_claim_not_testable(tmp_path: Path):
    v = _verdict(tmp_path, {"resnet18": "fractal"},
                 {"resnet18": {"fine-tuned": {"pretrains": False, "evidence": "won 1/3 seeds"}}})
    assert v.status is Status.NOT_TESTABLE
    assert v.evidence.startswith(pretraining.NO_PRETRAINING) and "won 1/3 seeds" in v.evidence
    assert v.data == "synthetic data, fractal pretraining"


def test_a_stand_in_that_pretrains_leaves_the_claims_own_verdict(tmp_path: Path):
    v = _verdict(tmp_path, {"resnet18": "fractal"},
                 {"resnet18": {"fine-tuned": {"pretrains": True, "evidence": "won 3/3 seeds"}}})
    assert v.status is Status.SUPPORTED and v.data == "synthetic data, fractal pretraining"


@pytest.mark.parametrize(("used", "probe", "status", "why"), [
    ({"resnet18": "imagenet"}, None, Status.SUPPORTED, ""),
    ({"resnet18": "fractal"}, None, Status.NOT_TESTABLE, "probe for resnet18, fine-tuned, has not been run"),
    ({}, None, Status.NOT_TESTABLE, "did not record which pretraining resnet18 started from"),
    ({"resnet18": "none"}, None, Status.NOT_TESTABLE, "started from no pretraining"),
])
def test_what_a_verdict_rests_on_is_named(tmp_path: Path, used, probe, status, why):
    v = _verdict(tmp_path, used, probe)
    assert v.status is status and why in v.evidence


def test_the_claims_that_compare_pretraining_name_their_backbones():
    from cpath_repro.claims.registry import CLAIMS

    assert {c.id: (c.pretrained, c.pretrained_use) for c in CLAIMS.values() if c.pretrained} == {
        "B-C4": (("resnet18",), "fine-tuned"), "C-C1": (("resnet50", "inception_v3"), "frozen"),
        "C-C5": (("resnet50",), "frozen"), "D-C1": (("googlenet",), "frozen")}


def test_a_claim_reads_the_probe_of_the_use_it_makes_of_the_backbone():
    probes = {"resnet50": {"fine-tuned": {"pretrains": True, "evidence": "fine-tuning gains"},
                           "frozen": {"pretrains": False, "evidence": "frozen features no better"}}}
    why, _ = pretraining.gate(("resnet50",), {"resnet50": "fractal"}, probes, "frozen")
    assert why is not None and "frozen features no better" in why
    assert pretraining.gate(("resnet50",), {"resnet50": "fractal"}, probes, "fine-tuned")[0] is None
    with pytest.raises(ValueError, match="say how it uses it"):
        from cpath_repro.claims.registry import Claim
        from cpath_repro.claims.rules import NotTestable

        Claim("X-C1", "A", "needs pretraining", NotTestable("x"), pretrained=("resnet50",))
