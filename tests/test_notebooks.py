"""The committed notebooks: sources carry smoke outputs, the book's copies the same code."""

import json
from pathlib import Path

import pytest

from memlib.claims import VERDICTS
from memlib.params import NOTEBOOKS

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "notebooks").glob("*.ipynb"))
CLAIM_PAGES = [p for p in SOURCES if p.stem in NOTEBOOKS]


def _code(path):
    cells = json.loads(path.read_text())["cells"]
    return [
        "".join(c["source"])
        for c in cells
        if c["cell_type"] == "code" and "injected-parameters" not in c["metadata"].get("tags", [])
    ]


def test_every_parameterized_notebook_exists():
    assert {p.stem for p in CLAIM_PAGES} == set(NOTEBOOKS)
    assert {p.stem for p in SOURCES} - set(NOTEBOOKS) == {"reproducing"}


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_book_copy_is_current(src):
    book = ROOT / "book" / src.name
    assert book.exists(), f"{book} missing: run `make book`"
    assert _code(book) == _code(src), f"{book.name} is stale: run `make book`"


@pytest.mark.parametrize(
    "path",
    CLAIM_PAGES + [ROOT / "book" / p.name for p in CLAIM_PAGES],
    ids=lambda p: f"{p.parent.name}/{p.stem}",
)
def test_executed_without_timestamps_and_with_a_verdict(path):
    nb = json.loads(path.read_text())
    assert "papermill" not in nb["metadata"]
    cells = nb["cells"]
    assert not any("execution" in c["metadata"] or "papermill" in c["metadata"] for c in cells)
    tags = [t for c in cells for t in c["metadata"].get("tags", [])]
    assert "parameters" in tags and "injected-parameters" in tags
    text = json.dumps([c.get("outputs", []) for c in cells])
    assert "Traceback" not in text
    records = [
        o["metadata"]["memlib"]["claim"]
        for c in cells
        for o in c.get("outputs", [])
        if "claim" in o.get("metadata", {}).get("memlib", {})
    ]
    assert len(records) == 1, "one claim record per page"
    assert records[0]["page"] == path.stem and records[0]["verdict"] in VERDICTS


def test_every_book_page_shows_its_header_and_records_its_verdict():
    from memlib.book import load_records

    records = load_records(ROOT / "book")
    assert set(records) == set(NOTEBOOKS), "a page without its claim record: run `make book`"
    for page, rec in records.items():
        assert rec["verdict"] in VERDICTS and rec["page"] == page
        first = "".join(
            json.loads((ROOT / "book" / f"{page}.ipynb").read_text())["cells"][0]["source"]
        )
        assert "{glue:md} claim_header" in first, page


@pytest.mark.parametrize("src", CLAIM_PAGES, ids=lambda p: p.stem)
def test_claim_checks_call_memlib_claims_and_mark_nbval_by_tag(src):
    cells = json.loads(src.read_text())["cells"]
    checked = [c for c in cells if "nbval-check-output" in c["metadata"].get("tags", [])]
    assert len(checked) == 1 and "claims." in "".join(checked[0]["source"])
    assert not any("NBVAL_" in "".join(c["source"]) for c in cells)  # no visible markers
