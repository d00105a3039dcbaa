"""The CSR claim (Arpit et al. 2017, Figures 7 to 9) driven through every outcome."""

import numpy as np
import pandas as pd

from memlib.claims import arpit_csr
from memlib.claims.core import FAILS, HOLDS, PARTLY, UNTESTABLE
from memlib.claims.csr import final_csr, mean_curves, patterns_first, rank_with_noise

EPOCHS = np.arange(11)
MEASURED = {0, 5, 10}


def run(dataset, kind, fraction, *, csr_end, seed=0, peak_first=True, val_end=0.6):
    """One synthetic run: the training accuracy rises to 1 by epoch 8; the validation accuracy
    peaks at epoch 2 (``peak_first``) or rises to the end; the CSR goes 0.02 → 0.02 (epoch 5)
    → ``csr_end``."""
    train = np.minimum(1.0, 0.1 + EPOCHS / 8)
    val = (np.where(EPOCHS <= 2, 0.3 + 0.2 * EPOCHS, 0.7 - 0.02 * (EPOCHS - 2))
           if peak_first else np.linspace(0.1, val_end, len(EPOCHS)))  # fmt: skip
    csr = [{0: 0.02, 5: 0.02, 10: csr_end}.get(e, np.nan) for e in EPOCHS]
    return pd.DataFrame({"dataset": dataset, "kind": kind, "fraction": fraction,
                         "seed": seed, "epoch": EPOCHS, "train_acc": train, "val_acc": val,
                         "csr": csr})  # fmt: skip


def curves(csr_of=lambda d, k, f: 0.05 + 0.3 * f, peak_first=True, val_real=0.8,
           datasets=("mnist", "cifar10")):  # fmt: skip
    rows = []
    for d in datasets:
        fr = [0.2, 0.5, 0.8] if d == "mnist" else [0.5, 1.0]
        rows.append(run(d, "real", 0.0, csr_end=csr_of(d, "real", 0.0), peak_first=False,
                        val_end=val_real))  # fmt: skip
        for k in ("randX", "randY"):
            for f in fr:
                rows.append(run(d, k, f, csr_end=csr_of(d, k, f),
                                peak_first=peak_first and k == "randY"))  # fmt: skip
    return pd.concat(rows, ignore_index=True)


def test_holds_when_csr_rises_with_noise_and_randy_peaks_first():
    c = arpit_csr(curves(), {"mnist": [0.0128], "cifar10": [0.016, 0.016, 0.015]})
    assert c.verdict == HOLDS, str(c)
    assert len(c.parts) == 8 and all(p.passed for p in c.parts)
    assert "0.0038" in c.numbers["MNIST: the box r = 0.3 (0-255 scale)"]
    assert c.key[1] == f"{0.35:.2f} / {0.05:.2f}"


def test_partly_when_only_the_rank_holds():
    c = arpit_csr(curves(peak_first=False))
    assert c.verdict == PARTLY
    assert not any(p.passed for p in c.parts if p.name.startswith("patterns first"))


def test_does_not_hold_when_csr_falls_with_noise_and_no_peak():
    c = arpit_csr(curves(csr_of=lambda d, k, f: 0.4 - 0.3 * f, peak_first=False))
    assert c.verdict == FAILS, str(c)


def test_not_testable_when_real_data_is_not_learned():
    c = arpit_csr(curves(val_real=0.12))
    assert c.verdict == UNTESTABLE
    assert [p.name for p in c.failed_preconditions()] == [
        "real data learned (MNIST)",
        "real data learned (CIFAR-10)",
    ]


def test_nan_and_missing_levels_are_not_measurable_not_passed():
    cur = curves(datasets=("mnist",))
    cur = cur[~((cur.kind == "randX") & (cur.fraction > 0.2))]  # two randX levels: no rank
    c = arpit_csr(cur)
    by = {p.name: p for p in c.parts}
    assert by["CSR rises with noise (MNIST randX)"].passed is None
    assert by["CSR rises with noise (MNIST randY)"].passed is True
    assert c.verdict == PARTLY  # one part not measurable, the others hold: not all passed
    nan = curves(csr_of=lambda d, k, f: np.nan if k == "randY" else 0.1 + f)
    c = arpit_csr(nan)
    by = {p.name: p for p in c.parts}
    assert by["randY above real (CIFAR-10)"].passed is False  # NaN never passes
    assert by["CSR rises with noise (CIFAR-10 randY)"].passed is False


def test_helpers_on_known_cases():
    m = mean_curves(pd.concat([run("mnist", "randY", 0.5, csr_end=0.2, seed=s) for s in (0, 1)]))
    assert len(m) == len(EPOCHS)
    o = patterns_first(m)
    assert o["peak"] == 2 and o["fit"] == 7 and o["csr_epoch"] == 5 and o["ok"] is True
    flat = patterns_first(run("mnist", "randY", 0.5, csr_end=0.02))
    assert flat["ok"] is False  # the CSR does not rise
    late = run("mnist", "randY", 0.5, csr_end=0.3).assign(val_acc=np.linspace(0, 1, 11))
    assert patterns_first(late)["ok"] is None  # peak at the last epoch: no CSR after it
    fin = final_csr(mean_curves(curves()))
    rho, fr, v = rank_with_noise(fin, "mnist", "randX")
    assert rho == 1.0 and fr == [0.0, 0.2, 0.5, 0.8]
    assert np.isnan(rank_with_noise(fin, "svhn", "randX")[0])


def test_a_full_noise_run_never_counts_as_patterns_first():
    cur = curves()
    cur = cur[~((cur.dataset == "cifar10") & (cur.kind == "randY") & (cur.fraction == 0.5))]
    c = arpit_csr(cur)
    by = {p.name: p for p in c.parts}
    assert by["patterns first (CIFAR-10)"].passed is None  # only the 100% run is left
    assert by["patterns first (MNIST)"].passed is True


def test_sampling_notes_say_whether_the_gap_exceeds_the_binomial_error():
    wide = arpit_csr(curves(), n_csr=1000)  # 0.35 vs 0.05 (CIFAR-10), 0.29 vs 0.05 (MNIST)
    assert len(wide.notes) == 4 and all(n.passed for n in wide.notes)
    assert wide.verdict == HOLDS  # notes never change the verdict
    close = arpit_csr(curves(csr_of=lambda d, k, f: 0.05 + 0.03 * f), n_csr=50)
    assert not any(n.passed for n in close.notes)
    assert close.verdict == HOLDS
    assert arpit_csr(curves()).notes == ()


def test_one_swap_among_four_levels_reaches_the_rank_threshold_exactly():
    # ρ = 1 − 6·2 / (4 · 15) = 0.8 exactly, which floating point gives as 0.7999…
    swapped = {0.0: 0.01, 0.2: 0.025, 0.5: 0.018, 0.8: 0.033}
    c = arpit_csr(curves(csr_of=lambda d, k, f: swapped[f] if d == "mnist" else 0.05 + 0.3 * f))
    by = {p.name: p for p in c.parts}
    assert by["CSR rises with noise (MNIST randX)"].passed is True
    two = {0.0: 0.01, 0.2: 0.018, 0.5: 0.025, 0.8: 0.005}  # ρ = −0.2: below
    c = arpit_csr(curves(csr_of=lambda d, k, f: two[f] if d == "mnist" else 0.05 + 0.3 * f))
    assert {p.name: p for p in c.parts}["CSR rises with noise (MNIST randX)"].passed is False
