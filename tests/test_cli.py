import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from memlib.cli import main
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
        "--corrupt",
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


@pytest.mark.parametrize(
    "args, words",
    [
        (["--dataset", "imagenet"], "unknown dataset"),
        (["--dataset", "npz:/no/such.npz"], "does not exist"),
        (["--dataset", "npz:BAD"], "must hold arrays"),
        (["--dataset", "npz:TINY", "--corrupt", "201"], "larger than the 200"),
        (["--dataset", "npz:TINY", "--epochs", "0"], "epochs"),
        (["--dataset", "npz:TINY", "--arch", "resnet"], "arch"),
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
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("memlib: error:") and words in err and "\n" not in err
    assert not out.exists() and not list(tmp_path.glob(".scores.csv*"))


def test_every_command_has_help():
    for cmd in ([], ["run"], ["build"], ["score"], ["fz"]):
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
        ["score", "--dataset", f"npz:{tiny_npz}", "--corrupt", "20", "--label-noise", "uniform",
         "--out", str(tmp_path / "s.csv")]
    )  # fmt: skip
    assert _config(args).label_noise == "uniform"
    with pytest.raises(SystemExit):
        _parser().parse_args(["score", "--dataset", "mnist", "--label-noise", "symmetric",
                              "--out", "x.csv"])  # fmt: skip
