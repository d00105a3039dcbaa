import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from memlib.cli import main
from memlib.errors import MemlibError
from memlib.scores import COLUMNS


def test_score_end_to_end_on_tiny_npz(tiny_npz, tmp_path):
    out = tmp_path / "scores.csv"
    cmd = [
        sys.executable,
        "-m",
        "memlib",
        "score",
        "--dataset",
        f"npz:{tiny_npz}",
        "--n-corrupt",
        "30",
        "--epochs",
        "6",
        "--hidden",
        "128",
        "--lr",
        "0.1",
        "--batch-size",
        "32",
        "--device",
        "cpu",
        "--quiet",
        "--out",
        str(out),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    t = pd.read_csv(out)
    assert list(t.columns) == COLUMNS and len(t) == 200
    assert t.corrupted.sum() == 30 and (t.label != t.true_label).sum() == 30
    np.testing.assert_allclose(t.score, t.loss_muted - t.loss_unmuted, atol=1e-4)
    # Corrupted examples carry higher scores than clean ones even in this small run.
    assert t[t.corrupted].score.median() > t[~t.corrupted].score.median()


def _fails_in_one_line(argv, words, out, capsys) -> None:
    """``main(argv)`` exits 2 with one line on stderr naming ``words``, and writes no ``out``
    (not even a temporary file beside it)."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("memlib: error:") and words in err and "\n" not in err
    assert not out.exists() and not list(out.parent.glob(f".{out.name}*"))


@pytest.mark.parametrize(
    "args, words",
    [
        (["--dataset", "imagenet"], "unknown dataset"),
        (["--dataset", "npz:/no/such.npz"], "does not exist"),
        (["--dataset", "npz:BAD"], "must hold arrays"),
        (["--dataset", "npz:TINY", "--n-corrupt", "201"], "n_corrupt=201 is more than the 200"),
        (["--dataset", "npz:TINY", "--n-train", "300"], "n_train=300 is more than the 200"),
        (["--dataset", "npz:TINY", "--n-train", "50", "--n-corrupt", "60"], "n_corrupt=60"),
        (["--dataset", "npz:TINY", "--epochs", "0"], "epochs"),
        (["--dataset", "npz:TINY", "--milestones", "5", "2"], "milestones"),
        (["--dataset", "npz:TINY", "--out", "/no/such/dir/s.csv"], "does not exist"),
        (["--dataset", "npz:TINY", "--out", "DIR"], "is a directory"),
    ],
)
def test_bad_input_one_line_error_nothing_written(args, words, tiny_npz, tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    np.savez(bad, pixels=np.zeros((3, 4)))
    args = [
        a.replace("TINY", str(tiny_npz)).replace("BAD", str(bad)).replace("DIR", str(tmp_path))
        for a in args
    ]
    out = tmp_path / "scores.csv"
    argv = ["score", "--device", "cpu", "--quiet", "--epochs", "1"] + args
    if "--out" not in args:
        argv += ["--out", str(out)]
    _fails_in_one_line(argv, words, out, capsys)


def test_unknown_arch_is_refused_in_one_line(tiny_npz, tmp_path, capsys):
    out = tmp_path / "scores.csv"
    argv = ["score", "--dataset", f"npz:{tiny_npz}", "--arch", "resnet", "--out", str(out)]
    assert main(argv) == 2 and not out.exists()
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "arch='resnet'" in err and "vgg11" in err


def test_every_command_has_help():
    for cmd in ([], ["run"], ["build"], ["score"], ["fz"], ["localize"]):
        done = subprocess.run(
            [sys.executable, "-m", "memlib", *cmd, "--help"], capture_output=True, text=True
        )
        assert done.returncode == 0 and "usage: memlib" in done.stdout


def test_unknown_profile_or_parameter_fails_before_papermill(capsys):
    assert main(["run", "fig2a_long_tail", "--profile", "gpu"]) == 2
    assert "unknown profile" in capsys.readouterr().err
    assert main(["run", "fig2a_long_tail", "--profile", "smoke", "-p", "epoch", "3"]) == 2
    assert "unknown parameter(s) epoch" in capsys.readouterr().err
    assert main(["run", "fig2a_long_tail", "--profile", "smoke", "-p", "epochs", "x"]) == 2
    assert "bad parameter epochs='x'" in capsys.readouterr().err


def test_label_noise_option_reaches_the_run(tiny_npz, tmp_path):
    from memlib.cli import _config, _parser

    args = _parser().parse_args(
        ["score", "--dataset", f"npz:{tiny_npz}", "--n-corrupt", "20", "--label-noise", "uniform",
         "--out", str(tmp_path / "s.csv")]
    )  # fmt: skip
    assert _config(args).label_noise == "uniform"
    args = _parser().parse_args(["score", "--dataset", "mnist", "--label-noise", "symmetric",
                                 "--out", "x.csv"])  # fmt: skip
    with pytest.raises(MemlibError, match="label_noise='symmetric'"):
        _config(args)


def test_options_reach_the_run_config_with_runconfigs_defaults(tmp_path):
    from memlib.cli import _config, _parser
    from memlib.config import RunConfig

    out = str(tmp_path / "s.csv")
    plain = _config(_parser().parse_args(["score", "--dataset", "mnist", "--out", out]))
    assert plain == RunConfig()  # the defaults are RunConfig's, and seed 0
    args = _parser().parse_args(
        ["score", "--dataset", "mnist", "--corrupt", "20", "--n-train", "500", "--epochs", "3",
         "--seed", "4", "--hidden", "64", "--out", out]
    )  # fmt: skip
    cfg = _config(args)  # --corrupt: the old name of --n-corrupt
    assert (cfg.n_corrupt, cfg.n_train, cfg.epochs, cfg.hidden) == (20, 500, 3, 64)
    assert (cfg.mask_seed, cfg.corrupt_seed, cfg.init_seed, cfg.order_seed) == (4, 4, 4, 4)
    fz = _parser().parse_args(
        ["fz", "--dataset", "mnist", "--models", "8", "--n-train", "500", "--out", out]
    )
    assert fz.n_models == 8 and _config(fz).n_train == 500
    with pytest.raises(SystemExit):  # fz needs its number of models
        _parser().parse_args(["fz", "--dataset", "mnist", "--out", out])


def test_vgg11_scores_with_the_books_cifar_setting_unless_told_otherwise(tmp_path):
    from memlib.cli import _mask_design, _parser
    from memlib.params import load_profile

    page = load_profile("cpu")["fig5cd_easy_difficult_cifar"]
    base = ["score", "--dataset", "cifar10", "--out", str(tmp_path / "s.csv")]
    vgg = _mask_design(_parser().parse_args([*base, "--arch", "vgg11"]))
    assert vgg == {"mask_last": page.get("mask_last", 8), "mask_pairs": page.get("mask_pairs", 0)}
    paper = _parser().parse_args([*base, "--arch", "vgg11", "--paper-masks"])
    assert _mask_design(paper) == {"mask_last": 8, "mask_pairs": 0}
    given = _parser().parse_args([*base, "--arch", "vgg11", "--mask-last", "4"])
    assert _mask_design(given)["mask_last"] == 4
    mlp = _parser().parse_args([*base, "--mask-pairs", "8"])
    assert _mask_design(mlp) == {"mask_pairs": 8}


def test_unreliable_design_warns_in_one_line(tmp_path, monkeypatch, capsys):
    from memlib import book, cli
    from memlib.config import RunConfig

    cfg = RunConfig(arch="vgg11", dataset="cifar10")
    monkeypatch.setattr(book, "measured_design", lambda c: None)
    cli._warn_if_unreliable(cfg)
    bad = {"auc": "0.50", "works": False, "target": "at least 0.85"}
    monkeypatch.setattr(book, "measured_design", lambda c: bad)
    cli._warn_if_unreliable(cfg)
    monkeypatch.setattr(book, "measured_design", lambda c: {"auc": "0.9", "works": True})
    cli._warn_if_unreliable(cfg)
    err = capsys.readouterr().err.strip().split("\n")
    assert len(err) == 2 and "not validated" in err[0] and "ROC-AUC of 0.50" in err[1]


def test_measured_design_reads_the_executed_page(tmp_path):
    import json

    from memlib.book import measured_design
    from memlib.config import RunConfig

    assert measured_design(RunConfig(arch="vgg11"), folder=tmp_path) is None  # not executed
    rec = {"profile": "cpu", "numbers": {"last 2 layers": "AUC 0.700 ± 0.010 (n=2); muted 0.2",
                                         "paper design": "AUC 0.512; muted 0.1"}}  # fmt: skip
    out = [{"output_type": "display_data", "data": {}, "metadata": {"memlib": {"claim": rec}}}]
    nb = {"cells": [{"cell_type": "code", "outputs": out}]}
    (tmp_path / "convnet_scores.ipynb").write_text(json.dumps(nb))
    found = measured_design(RunConfig(arch="vgg11", mask_last=2), folder=tmp_path)
    assert found["point"] == "last 2 layers" and found["auc"] == "0.700 ± 0.010 (n=2)"
    assert not found["works"]
    assert measured_design(RunConfig(arch="vgg11"), folder=tmp_path)["auc"] == "0.512"
    assert measured_design(RunConfig(arch="vgg11", mask_last=3), folder=tmp_path) is None



LOCALIZE = ["localize", "--device", "cpu", "--quiet", "--width", "0.125", "--epochs", "2",
            "--peak-epoch", "1", "--batch-size", "25"]  # fmt: skip


def test_localize_writes_one_row_per_example_identically_for_a_seed(
    images_npz, tmp_path, monkeypatch, capsys
):
    tables = []
    for cache in ("a", "b"):  # two empty caches: trained twice
        monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path / cache))
        out = tmp_path / f"{cache}.csv"
        argv = LOCALIZE + ["--dataset", f"npz:{images_npz}", "--noise", "0.1", "--out", str(out)]
        assert main(argv) == 0
        tables.append(out.read_bytes())
    assert tables[0] == tables[1]
    runs = list((tmp_path / "a" / "tied").iterdir())
    again = tmp_path / "again.csv"  # the first cache again: read, not retrained
    monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path / "a"))
    argv = LOCALIZE + ["--dataset", f"npz:{images_npz}", "--noise", "0.1", "--out", str(again)]
    assert main(argv) == 0 and again.read_bytes() == tables[0]
    assert list((tmp_path / "a" / "tied").iterdir()) == runs
    t = pd.read_csv(tmp_path / "a.csv")
    assert list(t.columns) == ["index", "label", "corrupted", "true_label", "pred_own",
                               "correct_own", "pred_full", "correct_full", "pred_drop",
                               "correct_drop"]  # fmt: skip
    assert len(t) == 120 and t.corrupted.sum() == 12 and (t.label != t.true_label).sum() == 12
    assert "right through their own channels and wrong without them" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, words",
    [
        (["--dataset", "imagenet"], "unknown dataset"),
        (["--dataset", "npz:/no/such.npz"], "does not exist"),
        (["--dataset", "npz:SMALL"], "too small for ResNet-9"),
        (["--dataset", "npz:IMAGES", "--n-train", "300"], "n_train=300 is more than the 120"),
        (["--dataset", "npz:IMAGES", "--noise", "1.5"], "noise=1.5"),
        (["--dataset", "npz:IMAGES", "--p-gen", "1"], "p_gen=1.0"),
        (["--dataset", "npz:IMAGES", "--p-mem", "0"], "p_mem=0.0"),
        (["--dataset", "npz:IMAGES", "--epochs", "1"], "peak_epoch=1"),
        (["--dataset", "npz:IMAGES", "--device", "tpu"], "device"),
        (["--dataset", "npz:IMAGES", "--width", "0.01"], "at least 2 channels"),
        (["--dataset", "npz:IMAGES", "--out", "/no/such/dir/s.csv"], "does not exist"),
    ],
)
def test_localize_bad_input_one_line_error_nothing_written(args, words, images_npz, tiny_npz,
                                                           tmp_path, capsys):  # fmt: skip
    args = [a.replace("IMAGES", str(images_npz)).replace("SMALL", str(tiny_npz)) for a in args]
    out = tmp_path / "rows.csv"
    argv = LOCALIZE + args + ([] if "--out" in args else ["--out", str(out)])
    _fails_in_one_line(argv, words, out, capsys)
