"""The provenance footer lists every parameter the page ran with (the page no longer shows papermill's cell)."""

from __future__ import annotations

from cpath_repro.results.provenance import Footer


def _manifest(params: dict) -> dict:
    return {"profile": "ci", "params": params,
            "provenance": {"libraries": {"torch": "2.15.0"}, "git_commit": "0123456789abcdef", "git_dirty": False,
                           "data_sources": [], "package_version": "0.1.0", "package_source_sha256": "f" * 64,
                           "device": "CPU", "started": "2026-12-01T00:00:00+00:00", "wall_time_s": 1.0}}


def test_the_footer_lists_each_parameter_with_the_value_used():
    footer = Footer(_manifest({"n_seeds": 1, "lr": 0.01, "data_root": None, "arm": "unet"}))
    html = footer._repr_html_()
    for item in ("n_seeds=1", "lr=0.01", "data_root=None", "arm=&#x27;unet&#x27;"):
        assert f"<code style='white-space:nowrap'>{item}</code>" in html
    assert "Profile" in html and ">ci<" in html
    assert "Parameters: n_seeds=1, lr=0.01, data_root=None, arm='unet'" in repr(footer)


def test_a_page_without_parameters_says_so():
    assert "<td style='text-align:left'>none</td>" in Footer(_manifest({}))._repr_html_()
