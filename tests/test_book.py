"""The book around the claim checks: records, the page header, the claims table; and how the
runner tidies an executed notebook."""

import json
from types import SimpleNamespace

import numpy as np
from claims_fixtures import score_run

from memlib import book, claims
from memlib.params import ScoreStudy, field_notes, load_profile, params_for
from memlib.runner import strip


def _params(page, profile="cpu"):
    return params_for(page, load_profile(profile)[page])


def test_scale_reads_the_parameters_of_every_kind_of_page():
    assert book.scale(_params("fig2a_long_tail")) == {
        "data": "MNIST, 60,000 examples",
        "model": "MLP, 4,096 hidden units",
        "epochs": "20 epochs",
        "seeds": "3 seeds",
    }
    short = book.scale(_params("fig5cd_easy_difficult_cifar"), short=True)
    assert short == {"data": "5,000 CIFAR-10", "model": "VGG-11 ×¼ (last 1, K=8)",
                     "epochs": "50+50 ep", "seeds": "2 seeds"}  # fmt: skip
    assert book.scale(_params("fig5cd_easy_difficult_cifar", "paper"))["model"] == "VGG-11"
    cfg = _params("convnet_scores").point("no scaling", 0)
    assert book.masks(cfg) == ", kept maps ×1" and book.masks(cfg, short=True) == " (×1)"
    assert book.scale(_params("fig9b_early_convergence_cct"))["model"] == "CCT-2, 64 dimensions"
    assert "512 ground-truth models" in book.scale(_params("fz_ground_truth"))["seeds"]
    assert "seeds" not in book.paper_scale("fig2a_long_tail")  # the paper does not state them
    assert book.paper_scale("fig2a_long_tail")["epochs"] == "200 epochs"


def _result(key, wall):
    return SimpleNamespace(meta={"kind": "score_run", "key": key, "wall_s": wall, "commit": "c",
                                 "device": "cpu"})  # fmt: skip


def test_record_carries_the_claim_the_scale_and_each_run_once():
    runs = [score_run(np.arange(100.0)) for _ in range(2)]
    runs[0].result, runs[1].result = _result("a", 10.0), _result("a", 10.0)  # the same run
    chunked = SimpleNamespace(chunks=[_result("b", 1.0), _result("c", 2.0)])  # a ground truth
    check = claims.fig2a_long_tail(runs)
    rec = book.record(check, _params("fig2a_long_tail"), [*runs, chunked])
    assert [r["key"] for r in rec["runs"]] == ["a", "b", "c"]
    assert rec["verdict"] == check.verdict and rec["headline"].startswith("Verdict:")
    assert rec["command"] == "memlib run fig2a_long_tail --profile cpu"
    header = book.header(rec)
    assert header.startswith(":::{admonition} Verdict:") and "`paper` profile" in header


def _notebook(path, rec):
    nb = {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": "# t"},
            {"cell_type": "code", "metadata": {}, "source": "", "outputs": [
                {"output_type": "display_data", "data": {"text/plain": "x"},
                 "metadata": {"memlib": {"claim": rec}}}]},
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }  # fmt: skip
    path.write_text(json.dumps(nb))


def test_claims_table_is_generated_from_the_executed_notebooks_in_order(tmp_path):
    recs = {}
    for page in ("fig2b_random_labels", "fig2a_long_tail"):
        check = claims.CLAIMS[page]([score_run(np.arange(100.0))])
        recs[page] = json.loads(json.dumps(book.record(check, _params(page))))
        _notebook(tmp_path / f"{page}.ipynb", recs[page])
    _notebook(tmp_path / "reproducing.ipynb", None)  # a page without a claim
    assert book.load_records(tmp_path) == recs
    table = book.claims_table(recs, ["fig2a_long_tail", "fig2b_random_labels", "reproducing"])
    rows = table.splitlines()[2:]
    assert len(rows) == 2 and "[Figure 2(a)](fig2a_long_tail.ipynb)" in rows[0]
    assert "{bdg-" in rows[1] and "200 ep" in rows[0]  # the paper's recipe where it differs


def test_strip_shows_the_parameters_once_commented_and_drops_hidden_stderr(tmp_path):
    cells = [
        {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "outputs": [],
         "source": 'profile = "cpu"  # the profile\nepochs = 20  # training epochs\n'},
        {"cell_type": "code", "metadata": {"tags": ["injected-parameters"], "papermill": {}},
         "outputs": [], "source": '# Parameters\nprofile = "smoke"\nepochs = 3\n'},
        {"cell_type": "code", "metadata": {"tags": ["remove-stderr"], "execution": {}},
         "source": "", "outputs": [{"output_type": "stream", "name": "stderr", "text": "bar"},
                                   {"output_type": "stream", "name": "stdout", "text": "ok"}]},
    ]  # fmt: skip
    path = tmp_path / "fig2a_long_tail.ipynb"  # the page's study explains its parameters
    path.write_text(json.dumps({"cells": cells, "metadata": {"papermill": {}}}))
    strip(path)
    nb = json.loads(path.read_text())
    params, injected, run = nb["cells"]
    assert "remove-cell" in params["metadata"]["tags"]
    notes = field_notes(ScoreStudy)
    assert "".join(injected["source"]) == (
        "# Parameters of the smoke profile (memlib/profiles/smoke.yml)\n"
        f'profile = "smoke"  # {notes["profile"]}\nepochs = 3  # {notes["epochs"]}'
    )
    assert notes["epochs"] == "training epochs"
    assert [o["name"] for o in run["outputs"]] == ["stdout"]
    assert "papermill" not in nb["metadata"] and not run["metadata"].get("execution")
    strip(path)  # idempotent
    assert json.loads(path.read_text()) == nb
    strip(path, ["epochs"])
    first = json.loads(path.read_text())["cells"][1]["source"][0]
    assert first.endswith("(memlib/profiles/smoke.yml), with epochs changed\n")


def test_record_names_the_parameters_changed_from_the_profile():
    p = params_for("fig2a_long_tail", load_profile("cpu")["fig2a_long_tail"] | {"epochs": 5})
    rec = book.record(claims.fig2a_long_tail([score_run(np.arange(100.0))]), p)
    assert rec["overrides"] == {"epochs": 5}
    assert rec["command"] == "memlib run fig2a_long_tail --profile cpu -p epochs 5"
    assert "profile, with epochs = 5)" in book.header(rec)
    assert book.overrides(_params("fig2a_long_tail"), "fig2a_long_tail") == {}


def test_build_records_itself_before_the_pages_that_read_it(tmp_path, monkeypatch):
    from memlib import runner

    seen = {}

    def fake_run(name, profile):
        seen[name] = (tmp_path / f"build-{profile}.json").exists()

    monkeypatch.setattr(runner, "notebooks", lambda: ["fig2a_long_tail", "reproducing"])
    monkeypatch.setattr(runner, "execute_notebook", fake_run)
    monkeypatch.setattr(runner, "html", lambda: tmp_path / "index.html")
    monkeypatch.setattr(runner, "default_output", lambda name, profile: tmp_path / f"{name}.ipynb")
    monkeypatch.setattr(runner, "output_dir", lambda profile: tmp_path)  # never the real book/
    real = runner.project_root() / "book" / "build-cpu.json"
    before = real.read_bytes() if real.exists() else None
    runner.build("cpu")
    assert (real.read_bytes() if real.exists() else None) == before  # the book's is untouched
    assert seen == {"fig2a_long_tail": False, "reproducing": True}
    rec = json.loads((tmp_path / "build-cpu.json").read_text())
    assert set(rec["notebooks_s"]) == {"fig2a_long_tail", "reproducing"}
    assert rec["html_s"] is not None and "cores" in rec["machine"]


def test_report_glues_the_header_and_every_measured_value_for_prose(monkeypatch):
    import IPython.display
    import myst_nb

    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda key, value, display: glued.update({key: value}))
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: None)
    check = claims.fig2a_long_tail([score_run(np.arange(100.0)) for _ in range(2)])
    book.report(check, _params("fig2a_long_tail"))
    names = [c.name for c in (*check.parts, *check.preconditions, *check.notes)]
    assert set(glued) == {"claim_header", *map(book.value_key, names)}
    assert book.value_key("label convention") == "claim_label_convention"
    assert book.value_key("Easy 90% (epoch)") == "claim_easy_90_epoch"
    first = check.parts[0]
    assert glued[book.value_key(first.name)].data == (
        first.value if first.passed is not None else first.why
    )


def test_markdown_table_formats_floats_and_shows_nan_as_a_dash():
    import pandas as pd

    df = pd.DataFrame({"name": ["a|b", "c"], "n": [1, 2], "x": [0.12345, float("nan")]})
    assert book.markdown_table(df, ".2f").splitlines()[2:] == ["| a\\|b | 1 | 0.12 |",
                                                               "| c | 2 | – |"]  # fmt: skip
