"""The result cache: keyed by config and code version, checked on reload, recomputed when bad."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from memlib import results
from memlib.results import Computed, cache_key, cache_root, cached, code_fingerprint, load


def _counting():
    """A computation that records each call and returns a small result."""
    calls = []

    def compute(folder):
        calls.append(folder)
        return Computed(pd.DataFrame({"epoch": [0, 1]}), {"a": np.arange(3)}, {"source": "x"})

    return compute, calls


def test_result_is_saved_with_provenance_and_served_from_the_cache():
    compute, calls = _counting()
    r = cached("t", {"x": 1, "t": (1, 2)}, compute, meta={"profile": "smoke", "device": "cpu"})
    assert calls == [r.path] and r.path.parent == cache_root() / "t"
    assert r.config == {"x": 1, "t": [1, 2]}  # as stored: tuples become lists
    assert r.arrays["a"].tolist() == [0, 1, 2] and r.history.epoch.tolist() == [0, 1]
    m = r.meta
    assert (m["kind"], m["key"], m["profile"], m["source"]) == ("t", r.path.name, "smoke", "x")
    assert m["code_version"] == results.code_version() and m["wall_s"] >= 0
    assert m["commit"] and m["started"] <= m["finished"]
    assert "profile smoke" in r.provenance() and "data x" in r.provenance()
    again = cached("t", {"x": 1, "t": [1, 2]}, compute)  # a tuple or a list: the same config
    assert len(calls) == 1 and again.path == r.path
    assert again.arrays["a"].tolist() == [0, 1, 2]
    other = cached("t", {"x": 2, "t": [1, 2]}, compute)  # another config, another entry
    assert len(calls) == 2 and other.path != r.path
    assert cached("u", {"x": 1, "t": [1, 2]}, compute).path.parent.name == "u"  # another kind
    assert len(calls) == 3
    assert not (r.path / "checkpoint.pt").exists() and not (r.path / "tmp").exists()


def test_finished_computation_removes_its_checkpoint():
    def compute(folder):
        (folder / "checkpoint.pt").write_bytes(b"state")
        return Computed(pd.DataFrame({"epoch": [0]}), {})

    r = cached("t", {"x": 1}, compute)
    assert not (r.path / "checkpoint.pt").exists()


@pytest.mark.parametrize(
    "damaged, content",
    [
        ("arrays.npz", b"garbage"),
        ("arrays.npz", b""),
        ("history.csv", b""),
        ("meta.json", b"{"),
        ("config.json", b"garbage"),
    ],
)
def test_unreadable_cache_entry_is_recomputed(damaged, content, capsys):
    compute, calls = _counting()
    r = cached("t", {"x": 1}, compute)
    (r.path / damaged).write_bytes(content)
    again = cached("t", {"x": 1}, compute)
    assert len(calls) == 2 and again.path == r.path
    assert again.arrays["a"].tolist() == [0, 1, 2] and again.config == {"x": 1}
    assert "recomputing unreadable cache entry" in capsys.readouterr().out
    cached("t", {"x": 1}, compute)
    assert len(calls) == 2  # the repaired entry is served again


def test_entry_whose_stored_config_differs_is_recomputed_and_load_refuses_it():
    compute, calls = _counting()
    r = cached("t", {"x": 1}, compute)
    assert load(r.path, {"x": 1}).config == {"x": 1}
    with pytest.raises(ValueError, match="another config"):
        load(r.path, {"x": 2})
    (r.path / "config.json").write_text(json.dumps({"x": 99}))  # e.g. a hash collision
    with pytest.raises(ValueError, match="another config"):
        load(r.path, {"x": 1})
    assert load(r.path).config == {"x": 99}  # without a config to check, it reads
    again = cached("t", {"x": 1}, compute)
    assert len(calls) == 2 and again.config == {"x": 1}
    assert json.loads((r.path / "config.json").read_text()) == {"x": 1}


def test_cache_key_is_recomputable_from_the_stored_config():
    compute, _ = _counting()
    config = {"dataset": "mnist", "milestones": (3, 5), "nested": {"b": 1, "a": [1.5, None]}}
    r = cached("score_run", config, compute)
    stored = json.loads((r.path / "config.json").read_text())
    assert cache_key("score_run", stored) == r.path.name == r.meta["key"]
    assert cache_key("score_run", {"b": 1, "a": 2}) == cache_key("score_run", {"a": 2, "b": 1})
    assert cache_key("score_run", stored) != cache_key("dynamics_run", stored)


def test_another_code_version_computes_into_another_folder(monkeypatch):
    compute, calls = _counting()
    first = cached("t", {"x": 1}, compute)
    with monkeypatch.context() as m:
        m.setattr(results, "code_version", lambda: "edited-code")
        second = cached("t", {"x": 1}, compute)
        assert len(calls) == 2 and second.path != first.path
        assert second.meta["code_version"] == "edited-code"
        assert cached("t", {"x": 1}, compute).path == second.path and len(calls) == 2
    back = cached("t", {"x": 1}, compute)  # back to the code as it is: the first entry again
    assert len(calls) == 2 and back.path == first.path
    assert back.meta["code_version"] == results.code_version() != "edited-code"


SOURCE = '''"""A module."""

SCALE = 0.5


def f(x):
    """Twice ``x``, scaled."""
    return 2 * x * SCALE
'''


def test_code_fingerprint_ignores_comments_docstrings_and_layout():
    same = [
        SOURCE.replace('"""A module."""', '"""Another docstring."""'),
        SOURCE.replace('    """Twice ``x``, scaled."""\n', ""),
        SOURCE.replace("SCALE = 0.5", "SCALE = 0.5  # a comment\n\n\n# and another"),
        SOURCE.replace("return 2 * x * SCALE", "return (2 * x\n            * SCALE)"),
        SOURCE.replace('"""A module."""\n', ""),
    ]
    for src in same:
        assert code_fingerprint(src) == code_fingerprint(SOURCE), src
    different = [
        SOURCE.replace("SCALE = 0.5", "SCALE = 0.25"),  # a constant
        SOURCE.replace("2 * x", "3 * x"),
        SOURCE.replace("def f(x)", "def g(x)"),  # a name
        SOURCE.replace("* SCALE", "* SCALE2"),
        SOURCE.replace("2 * x * SCALE", "2 * x / SCALE"),  # an operator
        SOURCE + "\nf('a string statement is code')\n",
    ]
    for src in different:
        assert code_fingerprint(src) != code_fingerprint(SOURCE), src


def test_code_version_hashes_the_computational_modules_only(monkeypatch):
    v = results.code_version()
    assert len(v) == 12 and v == results.code_version()
    assert {"params.py", "book.py", "cli.py", "agreement.py"} <= results.OUTSIDE_CODE_VERSION
    assert not {"training.py", "runs.py", "results.py", "data.py", "groundtruth.py"} & (
        results.OUTSIDE_CODE_VERSION
    )


@pytest.mark.parametrize(
    "module, edit, changes",
    [
        ("training.py", "\nEDITED = 1\n", True),
        ("runs.py", "\ndef edited():\n    return 1\n", True),
        ("training.py", "\n# a comment\n\n", False),
        ("params.py", "\nEDITED = 1\n", False),  # outside the code version
        ("agreement.py", "\nEDITED = 1\n", False),
    ],
)
def test_code_version_follows_an_edit_of_a_computational_module(monkeypatch, module, edit, changes):
    """The version as it would be with ``edit`` appended to ``module`` (uncached computation)."""
    before = results.code_version.__wrapped__()
    read = Path.read_text

    def edited(self, *a, **k):
        text = read(self, *a, **k)
        return text + edit if self.name == module and self.parent.name == "memlib" else text

    monkeypatch.setattr(Path, "read_text", edited)
    assert (results.code_version.__wrapped__() != before) is changes
