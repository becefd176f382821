"""The pretraining page's bookkeeping: the stand-ins' model keys and each backbone's pretraining reach the run."""

from types import SimpleNamespace

from cpath_repro import catalog
from cpath_repro.chapters.pretraining import analysis
from cpath_repro.results.run import Run


def _outcomes() -> list[analysis.Outcome]:
    stand_in = SimpleNamespace(key="0123456789abcdef01234567")
    return [analysis.Outcome("resnet18", "imagenet", "torchvision file"),
            analysis.Outcome("googlenet", "fractal", "stand-in", stand_in)]  # type: ignore[arg-type]


def test_record_weights_lists_the_stand_ins_models_and_every_backbones_pretraining(tmp_path):
    run = Run("pretraining", catalog.get("pretraining").resolve("ci", {}), tmp_path)
    analysis.record_weights(run, _outcomes())
    assert run.models == ["0123456789abcdef01234567"]  # an ImageNet backbone uses no stored model
    assert run.pretraining == {"resnet18": "imagenet", "googlenet": "fractal"}
    run.abandon()


def test_sources_say_where_each_backbones_weights_come_from():
    assert analysis.sources(_outcomes()) == {"resnet18": "imagenet", "googlenet": "fractal"}


def test_the_probe_measures_each_backbone_the_way_its_claims_use_it():
    assert analysis.uses("resnet18") == ("fine-tuned",)  # B-C4 tunes it
    assert analysis.uses("resnet50") == ("frozen",)  # C-C1 and C-C5 read its features
    assert analysis.uses("googlenet") == ("frozen",)  # D-C1's ImageNet-features arm
