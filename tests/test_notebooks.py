"""The committed notebooks: sources carry smoke outputs, the book's copies the same code."""

import json
from pathlib import Path

import pytest

from memlib.config import NOTEBOOKS

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _code(path):
    cells = json.loads(path.read_text())["cells"]
    return [
        "".join(c["source"])
        for c in cells
        if c["cell_type"] == "code" and "injected-parameters" not in c["metadata"].get("tags", [])
    ]


def test_every_parameterized_notebook_exists():
    assert {p.stem for p in SOURCES} == set(NOTEBOOKS)


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_book_copy_is_current(src):
    book = ROOT / "book" / src.name
    assert book.exists(), f"{book} missing: run `make book`"
    assert _code(book) == _code(src), f"{book.name} is stale: run `make book`"


@pytest.mark.parametrize(
    "path",
    SOURCES + sorted((ROOT / "book").glob("*.ipynb")),
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
    assert "Verdict:" in text and "Traceback" not in text
