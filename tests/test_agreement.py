"""The ground-truth analysis (memlib.agreement): convergence, agreement, costs, trade-off and
disagreements, each against a direct computation; and the chapter's runs end to end, tiny."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from memlib import agreement as A
from memlib.groundtruth import fz_estimate
from memlib.params import load_profile, params_for


def _rank_corr(a, b) -> float:
    """Spearman's rho, the obvious way: Pearson's r of the average ranks."""
    return float(np.corrcoef(pd.Series(a).rank(), pd.Series(b).rank())[0, 1])


def fake_fz(k=16, n=300, seed=0, wall_s=32.0):
    """An FZRun-like object: ``k`` models over ``n`` examples whose true memorization grows with
    the index; corrupted: the most memorized fifth. MLP 64-16-4 trained 3 epochs on 70%."""
    rng = np.random.default_rng(seed)
    mem = np.linspace(0, 0.8, n)
    members = rng.random((k, n)) < 0.7
    p = np.where(members, 0.95, 0.95 - mem)
    correct = rng.random((k, n)) < p
    data = SimpleNamespace(
        input_shape=(1, 8, 8),
        n_classes=4,
        n_train=n,
        y_test=torch.zeros(50, dtype=torch.long),
        corrupted=torch.as_tensor(mem > 0.64),
    )
    config = SimpleNamespace(hidden=16, epochs=3)
    return SimpleNamespace(
        k=k, members=members, correct=correct, data=data, config=config, fraction=0.7,
        wall_s=wall_s,
    )  # fmt: skip


def fake_turnover(fz, n_seeds=3, noise=0.3, seed=1):
    """Turn-over scoring runs: the true memorization plus noise, a recorded wall time each."""
    rng = np.random.default_rng(seed)
    mem = np.linspace(0, 0.8, fz.data.n_train)
    return [
        SimpleNamespace(
            table=pd.DataFrame({"score": mem + noise * rng.standard_normal(len(mem))}),
            meta={"wall_s": 10.0 + s},
        )
        for s in range(n_seeds)
    ]


@pytest.mark.parametrize("k, ks", [(16, [2, 4, 8]), (12, [2, 4, 6]), (4, [2]), (2, [1])])
def test_fz_convergence_compares_the_two_halves_at_doublings(k, ks):
    fz = fake_fz(k=k)
    conv = A.fz_convergence(fz)
    assert conv.k.tolist() == ks
    half = k // 2
    for row in conv.itertuples():
        a = fz_estimate(fz.members[: row.k], fz.correct[: row.k])["mem"]
        b = fz_estimate(fz.members[half : half + row.k], fz.correct[half : half + row.k])["mem"]
        ok = ~np.isnan(a) & ~np.isnan(b)
        assert row.defined == ok.mean()
        if ok.sum() > 2:
            assert row.spearman == pytest.approx(_rank_corr(a[ok], b[ok]), abs=1e-12)
            assert row.pearson == pytest.approx(np.corrcoef(a[ok], b[ok])[0, 1], abs=1e-12)
            assert row.reliability == pytest.approx(2 * row.spearman / (1 + row.spearman))
        else:
            assert np.isnan(row.spearman)
    if k == 16:  # more models, a steadier estimate, and more examples defined
        assert conv.spearman.is_monotonic_increasing and conv.defined.is_monotonic_increasing
    chosen = A.fz_convergence(fz, ks=[1, half])
    assert chosen.k.tolist() == [1, half]
    np.testing.assert_equal(chosen.spearman.iloc[-1], conv.spearman.iloc[-1])


def test_flops_by_hand():
    fz = fake_fz()  # D = 64, H = 16, C = 4; n = 300, 50 test examples, 3 epochs, m = 210
    per = 64 * 16 + 16 * 4  # multiply-adds of one example's forward pass
    train = 4 * 64 * 16 + 6 * 16 * 4  # FLOPs of one example's training pass
    assert A.flops(fz) == {
        "to_train": train * 3 * 300,
        "to_needed": 2 * per * 300,
        "to_extra": 2 * per * (4 * 350 - 300),  # train + test after each of 3 epochs and before
        "fz_train": train * 3 * 210,
        "fz_needed": 2 * per * 300,
        "fz_extra": 2 * per * 50,
    }


def test_costs_count_trainings_epochs_passes_and_flops():
    fz = fake_fz(k=16, wall_s=32.0)
    runs = fake_turnover(fz, n_seeds=3)
    f = A.flops(fz)
    c = A.costs(runs, fz).set_index("estimator")
    to, gt = c.loc["turn-over dropout, 3 seeds"], c.loc["Feldman-Zhang, k = 16"]
    assert (to.trainings, to.epochs, to.example_passes) == (3, 9, 9 * 300)
    assert (gt.trainings, gt.epochs, gt.example_passes) == (16, 48, 48 * 210)
    assert to.tflop_needed == pytest.approx(3 * (f["to_train"] + f["to_needed"]) / 1e12)
    assert to.tflop_all == pytest.approx(to.tflop_needed + 3 * f["to_extra"] / 1e12)
    assert gt.tflop_needed == pytest.approx(16 * (f["fz_train"] + f["fz_needed"]) / 1e12)
    assert gt.tflop_all == pytest.approx(gt.tflop_needed + 16 * f["fz_extra"] / 1e12)
    # the training FLOPs are the example passes times a pass's cost
    per_pass = 4 * 64 * 16 + 6 * 16 * 4
    assert to.tflop_needed - 3 * f["to_needed"] / 1e12 == pytest.approx(
        to.example_passes * per_pass / 1e12
    )
    assert gt.tflop_needed - 16 * f["fz_needed"] / 1e12 == pytest.approx(
        gt.example_passes * per_pass / 1e12
    )
    assert (to.wall_s, gt.wall_s) == (10 + 11 + 12, 32.0)


def test_tradeoff_rows_and_their_agreement_with_the_held_out_half():
    fz = fake_fz(k=16, wall_s=32.0)
    runs = fake_turnover(fz, n_seeds=3)
    f = A.flops(fz)
    t = A.tradeoff(runs, fz)
    assert t.estimator.tolist() == ["turn-over dropout"] * 2 + ["Feldman-Zhang"] * 3
    assert t.units.tolist() == [1, 3, 2, 4, 8]  # counts 1, 3 (5 > 3 runs); k up to the half
    ref = fz_estimate(fz.members[8:], fz.correct[8:])["mem"]
    corrupted = fz.data.corrupted.numpy()
    scores = np.stack([r.table.score.to_numpy() for r in runs])
    for row in t.itertuples():
        if row.estimator == "turn-over dropout":
            est = scores[: row.units].mean(0)
            tflop = row.units * (f["to_train"] + f["to_needed"]) / 1e12
            wall = sum(10.0 + s for s in range(row.units))
        else:
            est = fz_estimate(fz.members[: row.units], fz.correct[: row.units])["mem"]
            tflop = row.units * (f["fz_train"] + f["fz_needed"]) / 1e12
            wall = 32.0 * row.units / 16
        ok = ~np.isnan(est) & ~np.isnan(ref)
        assert row.spearman == pytest.approx(_rank_corr(est[ok], ref[ok]), abs=1e-12)
        pos, neg = est[ok][corrupted[ok]], est[ok][~corrupted[ok]]
        auc = np.mean([(p > q) + 0.5 * (p == q) for p in pos for q in neg])
        assert row.roc_auc == pytest.approx(auc, abs=1e-12)
        assert row.tflop == pytest.approx(tflop) and row.wall_s == pytest.approx(wall)
    # the full first half (k = 8) against the second half: the number a reader compares
    full = t[(t.estimator == "Feldman-Zhang") & (t.units == 8)].spearman.item()
    a = fz_estimate(fz.members[:8], fz.correct[:8])["mem"]
    both = ~np.isnan(a) & ~np.isnan(ref)
    assert full == pytest.approx(_rank_corr(a[both], ref[both]), abs=1e-12)
    assert A.tradeoff(runs, fz, counts=(2,), ks=[3]).units.tolist() == [2, 3]


def test_agreement_and_disagreements():
    rng = np.random.default_rng(0)
    fz = rng.random(300)
    corrupted = fz > 0.8
    to = np.stack([fz + 0.3 * rng.standard_normal(300) for _ in range(3)])
    a = A.agreement(to, fz, corrupted, top=0.1, n_bootstrap=200).set_index("metric")
    assert list(a.index) == [
        "spearman",
        "pearson",
        "precision@30",
        "roc_auc turn-over",
        "roc_auc feldman-zhang",
    ]
    single = [_rank_corr(t, fz) for t in to]
    assert a.loc["spearman", "per_seed"] == pytest.approx(np.mean(single))
    assert a.loc["spearman", "seed_sd"] == pytest.approx(np.std(single, ddof=1))
    assert a.loc["spearman", "seed_min"] == pytest.approx(min(single))
    assert a.loc["spearman", "averaged"] == pytest.approx(_rank_corr(to.mean(0), fz))
    assert a.loc["spearman", "averaged"] > a.loc["spearman", "per_seed"] > 0.5
    lo, hi = a.loc["spearman", ["ci_low", "ci_high"]]
    assert lo < a.loc["spearman", "averaged"] < hi
    assert a.loc["roc_auc feldman-zhang", "averaged"] == 1.0
    # examples the estimate leaves undefined (NaN) are left out, not counted
    undefined = fz.copy()
    undefined[:50] = np.nan
    b = A.agreement(to, undefined, corrupted, top=0.1, n_bootstrap=20).set_index("metric")
    assert b.loc["spearman", "averaged"] == pytest.approx(_rank_corr(to[:, 50:].mean(0), fz[50:]))
    assert "precision@25" in b.index
    # without random labels, no ROC-AUC rows
    assert len(A.agreement(to, fz, np.zeros(300, bool), top=0.1, n_bootstrap=20)) == 3

    table = pd.DataFrame({"index": range(300), "label": 0, "true_label": 0,
                          "corrupted": corrupted, "mem": fz, "se": 0.0})  # fmt: skip
    d = A.disagreements(to.mean(0), table, 5)
    assert len(d) == 10 and (d.gap[:5] > 0).all() and (d.gap[5:] < 0).all()
    pct = lambda x: 100 * (pd.Series(x).rank().to_numpy() - 1) / 299
    gap = pct(to.mean(0)) - pct(fz)
    assert d["index"][:5].tolist() == np.argsort(-gap, kind="stable")[:5].tolist()
    assert d["index"][5:].tolist() == np.argsort(gap, kind="stable")[:5].tolist()


@pytest.mark.filterwarnings("ignore::scipy.stats.ConstantInputWarning")  # 2 epochs: flat estimates
def test_the_chapters_runs_end_to_end(tiny_npz):
    """ground_truth and turnover_runs on the same data; costs and trade-off from what they
    recorded."""
    p = params_for(
        "fz_ground_truth",
        load_profile("smoke")["fz_ground_truth"]
        | {"dataset": f"npz:{tiny_npz}", "n_train": 0, "n_corrupt": 20, "hidden": 16,
           "epochs": 2, "batch_size": 32, "n_models": 8, "chunk": 4, "device": "cpu"},
    )  # fmt: skip
    fz = A.ground_truth(p, 20)
    runs = A.turnover_runs(p, 20)
    assert fz.k == 8 and len(fz.chunks) == 2 and len(runs) == len(p.seeds) == 2
    assert fz.config.corrupt_seed == p.data_seed and not fz.config.turnover
    for r in runs:  # the same random labels as the ground truth
        assert (r.table.corrupted.to_numpy() == fz.data.corrupted.numpy()).all()
        assert (r.table.label.to_numpy() == fz.data.y_train.numpy()).all()
    c = A.costs(runs, fz)
    assert c.trainings.tolist() == [2, 8] and c.epochs.tolist() == [4, 16]
    assert c.wall_s.iloc[0] == pytest.approx(sum(r.meta["wall_s"] for r in runs))
    assert c.wall_s.iloc[1] == pytest.approx(fz.wall_s) and fz.wall_s > 0
    t = A.tradeoff(runs, fz)
    assert t.units.tolist() == [1, 2, 4]
    assert t.roc_auc.between(0, 1).all()  # each estimator's ranking of the random labels
    f = A.flops(fz)
    tflop = [f["to_train"] + f["to_needed"], 2 * (f["fz_train"] + f["fz_needed"])]
    assert t.tflop.tolist()[:2] == pytest.approx([x / 1e12 for x in tflop])
