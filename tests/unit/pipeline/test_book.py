"""The book's pages read like a book: papermill's cell dropped, code folded, files linked, chapters from the catalog."""

from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from cpath_repro import catalog
from cpath_repro.claims import registry
from cpath_repro.pipeline import book
from cpath_repro.project import PROJECT_ROOT


def _executed() -> nbformat.NotebookNode:
    """An executed notebook as papermill leaves it."""
    cells = [new_markdown_cell("# A-T2 · title"),
             new_code_cell('profile = "default"', metadata={"tags": ["parameters"]}),
             new_code_cell('# Parameters\nprofile = "ci"\n', metadata={"tags": ["injected-parameters"]}),
             new_code_cell("run = start(...)", outputs=[new_output("stream", name="stdout", text="models: 2")]),
             new_code_cell("run.save_figure(...)", metadata={"tags": ["hide-input"]})]
    return new_notebook(cells=cells)


def test_a_page_drops_the_injected_parameters_and_folds_every_code_cell():
    executed = _executed()
    page = book.for_reading(executed, "**files**")
    tags = [c.metadata.get("tags", []) for c in page.cells]
    assert not any("injected-parameters" in t for t in tags)
    assert "# Parameters" not in "".join(c.source for c in page.cells)
    code = [c for c in page.cells if c.cell_type == "code"]
    assert len(code) == 3 and all(c.metadata["tags"].count("hide-input") == 1 for c in code)
    assert "parameters" in code[0].metadata["tags"]  # papermill still finds the parameters cell
    assert code[1].outputs[0]["text"] == "models: 2"  # folded source, shown output
    assert page.cells[-1].cell_type == "markdown" and page.cells[-1].source == "**files**"
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells), "input unchanged"
    assert "hide-input" not in executed.cells[3].metadata.get("tags", [])


def test_a_page_opens_with_its_claims_verdict_cards_under_the_title_and_folds_its_setup_whole():
    import pandas as pd

    from cpath_repro.claims import scorecard

    cells = [new_markdown_cell("# A-T1 · title\n\nThe page's story."),
             new_code_cell('run, s = start("A-T1", vars())\nprint("parameters:", counts)',
                           outputs=[new_output("stream", name="stdout", text="parameters: {'unet': 1}")]),
             new_code_cell("box", metadata={})]
    table = pd.DataFrame([{"seed": s, "arm": arm, "unit": "", "metric": m, "value": v + 0.01 * s * (arm == "he-only")}
                          for s in range(5) for m in ("f1_background", "f1_tumour", "f1_necrosis")
                          for arm, v in (("he-only", 0.9), ("multistain", 0.8))])
    verdict = scorecard.judge(registry.CLAIMS["A-C2"], table, "synthetic data", "A-T1")
    page = book.for_reading(new_notebook(cells=cells), verdicts={"A-C2": verdict}, claims=("A-C2",))
    assert page.cells[0].source == "# A-T1 · title"
    cards = page.cells[1]
    assert cards.metadata["tags"] == [book.OUTPUT_ONLY] and cards.source == book.CARDS_SOURCE
    html = cards.outputs[0]["data"]["text/html"]
    assert "data-claim='A-C2'" in html and "supported" in html and "We measured:" in html
    assert page.cells[2].source == "The page's story."
    assert page.cells[3].metadata["tags"] == [book.FOLDED_WHOLE]  # the setup: source and output one click away
    assert page.cells[4].metadata["tags"] == [book.FOLDED]


def test_every_table_claim_table_and_figure_of_a_result_is_linked_for_download(tmp_path):
    result = tmp_path / "A-T2"
    for folder, name in (("tables", "A-T2.csv"), ("claims", "A-C3.csv"), ("figures", "A-F4.png"), ("figures", "A-F4.svg")):
        (result / folder).mkdir(parents=True, exist_ok=True)
        (result / folder / name).write_text("x")
    text = book._copy_files(result, tmp_path / "stage" / "files" / "A-T2", "files/A-T2")
    for link in ("files/A-T2/tables/A-T2.csv", "files/A-T2/claims/A-C3.csv", "files/A-T2/figures/A-F4.png",
                 "files/A-T2/figures/A-F4.svg"):
        assert f"]({link})" in text
        assert (tmp_path / "stage" / link).read_text() == "x"


def test_the_how_to_read_chapter_list_is_the_catalog_in_book_order():
    specs = book.book_order(PROJECT_ROOT / "_toc.yml")
    assert [s.name for s in specs][:2] == ["stains", "pretraining"]
    assert [s.name for s in specs].index("A-T1") < [s.name for s in specs].index("E-F1")  # as the TOC has it
    page = book.chapters_page(specs)
    for spec in catalog.NOTEBOOKS.values():
        assert f"{{doc}}`/notebooks/{spec.name}`" in page and spec.description in page
        assert spec.part in page
    assert "claims A-C3, A-C4" in page
    with_chapter = {spec.part.split()[1] for spec in catalog.NOTEBOOKS.values() if spec.part.startswith("Paper ")}
    for paper in registry.PAPERS:
        named = f"Paper {paper}, {registry.PAPERS[paper]}"
        ids = [c.id for c in registry.CLAIMS.values() if c.paper == paper]
        if paper in with_chapter:
            assert named not in page
        elif ids:  # papers with claims but no chapter are named, with their claims
            assert f"{named}: claims {ids[0]} to {ids[-1]}" in page


def test_the_how_to_read_page_includes_the_generated_list_and_names_no_file_outside_the_repository():
    text = (PROJECT_ROOT / "book" / "how-to-read.md").read_text()
    assert "```{include} _generated/chapters.md" in text
    readme = (PROJECT_ROOT / "README.md").read_text()
    for outside in ("../", "/shared", "SPEC"):
        assert outside not in text and outside not in readme
