"""The ground-truth analysis: turn-over-dropout scores against the Feldman-Zhang estimate.

How the estimate converges with the number of models, how well the two estimators agree (with
seeds and bootstrap intervals), what each costs, cost against agreement, and the examples on
which they disagree most.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import stats
from .ensembles import eval_flops, train_flops
from .groundtruth import FZRun, fz_estimate, fz_run
from .params import GroundTruthStudy
from .runs import ScoreRun, score_run


def ground_truth(p: GroundTruthStudy, n_corrupt: int) -> FZRun:
    """The Feldman-Zhang estimate of the condition with ``n_corrupt`` random labels."""
    cfg = p.ensemble(n_corrupt)
    return fz_run(cfg, p.n_models, p.fraction, chunk=p.chunk, profile=p.profile)


def turnover_runs(p: GroundTruthStudy, n_corrupt: int) -> list[ScoreRun]:
    """One turn-over-dropout scoring run per seed on the same data (masks, init, order differ)."""
    return [score_run(p.turnover(s, n_corrupt), profile=p.profile) for s in p.seeds]


def _doublings(half: int) -> list[int]:
    """2, 4, 8, ... up to ``half``, and ``half`` itself: the numbers of models compared."""
    return sorted({2**i for i in range(1, half.bit_length())} | {half})


def fz_convergence(run: FZRun, ks: list[int] | None = None) -> pd.DataFrame:
    """How the estimate stabilises as ``k`` grows: the two disjoint halves of the models each give
    an estimate from their first ``k`` models; ``spearman`` correlates the two (over the examples
    both define). ``reliability`` is Spearman-Brown's step-up: the expected correlation of an
    estimate from ``2k`` models with another one from ``2k`` independent models."""
    half = run.k // 2
    ks = ks or _doublings(half)
    members, correct = run.members, run.correct
    rows = []
    for k in ks:
        a = fz_estimate(members[:k], correct[:k])["mem"]
        b = fz_estimate(members[half : half + k], correct[half : half + k])["mem"]
        ok = ~np.isnan(a) & ~np.isnan(b)
        r = stats.spearman(a[ok], b[ok]) if ok.sum() > 2 else float("nan")
        rows.append(
            {
                "k": k,
                "spearman": r,
                "pearson": stats.pearson(a[ok], b[ok]) if ok.sum() > 2 else float("nan"),
                "defined": ok.mean(),
                "reliability": stats.spearman_brown(r),
            }
        )
    return pd.DataFrame(rows)


def agreement(
    turnover: np.ndarray,
    fz: np.ndarray,
    corrupted: np.ndarray,
    top: float,
    n_bootstrap: int,
    seed: int = 0,
) -> pd.DataFrame:
    """Agreement of turn-over scores ``turnover`` [S, n] (one row per seed) with the Feldman-Zhang
    estimate ``fz`` [n]: Spearman, Pearson, precision@k (k = ``top`` of n) and, with random labels,
    each estimator's ROC-AUC for them. Columns: ``per_seed`` (mean over single seeds),
    ``seed_sd`` and ``seed_min`` (the lowest seed); ``averaged`` (scores averaged over the
    seeds) with a bootstrap interval over the examples (``ci_low``, ``ci_high``). Only the
    examples ``fz`` defines count."""
    ok = ~np.isnan(fz)  # with few models, some examples are never held out (or never in)
    turnover, fz, corrupted = turnover[:, ok], fz[ok], np.asarray(corrupted, bool)[ok]
    k = max(1, round(top * len(fz)))
    metrics = {
        "spearman": stats.spearman,
        "pearson": stats.pearson,
        f"precision@{k}": lambda a, b: stats.precision_at_k(a, b, k),
    }
    avg = turnover.mean(0)
    rows = []
    for name, fn in metrics.items():
        single = [fn(t, fz) for t in turnover]
        rows.append(
            (name, single, fn(avg, fz), stats.bootstrap_ci(fn, avg, fz, n=n_bootstrap, seed=seed))
        )
    if corrupted.any():
        auc = stats.roc_auc
        single = [auc(t, corrupted) for t in turnover]
        ci = stats.bootstrap_ci(auc, avg, corrupted, n=n_bootstrap, seed=seed)
        rows.append(("roc_auc turn-over", single, auc(avg, corrupted), ci))
        ci = stats.bootstrap_ci(auc, fz, corrupted, n=n_bootstrap, seed=seed)
        rows.append(("roc_auc feldman-zhang", [np.nan], auc(fz, corrupted), ci))
    return pd.DataFrame(
        [
            {
                "metric": name,
                "per_seed": np.mean(single),
                "seed_sd": np.std(single, ddof=1) if len(single) > 1 else np.nan,
                "seed_min": np.min(single),
                "averaged": value,
                "ci_low": ci[0],
                "ci_high": ci[1],
            }
            for name, single, value, ci in rows
        ]
    )


def flops(fz: FZRun) -> dict[str, float]:
    """FLOPs (analytic, :mod:`memlib.ensembles`) of one turn-over run and of one ground-truth
    model: training; the evaluation the scores need (the training set, once); and the
    evaluation they do besides (turn-over runs: train and test sets after every epoch, for the
    history; ground-truth models: the test set, for test accuracy and influence)."""
    d, cfg = fz.data, fz.config
    shape = (int(np.prod(d.input_shape)), cfg.hidden, d.n_classes)
    n, n_test, e = d.n_train, len(d.y_test), cfg.epochs
    m = round(fz.fraction * n)
    return {
        "to_train": train_flops(*shape, e * n),
        "to_needed": eval_flops(*shape, n),
        "to_extra": eval_flops(*shape, (e + 1) * (n + n_test)) - eval_flops(*shape, n),
        "fz_train": train_flops(*shape, e * m),
        "fz_needed": eval_flops(*shape, n),
        "fz_extra": eval_flops(*shape, n_test),
    }


def costs(to_runs: list[ScoreRun], fz: FZRun) -> pd.DataFrame:
    """Each estimator's cost: trainings, epochs, example passes, TFLOPs (``tflop_needed``:
    training and the one evaluation the scores need; ``tflop_all``: with the evaluations done
    besides, see :func:`flops`) and the wall time the cache recorded (everything it ran)."""
    f, e, s = flops(fz), fz.config.epochs, len(to_runs)
    rows = []
    for name, units, pre, n in (
        (f"turn-over dropout, {s} seeds", s, "to", fz.data.n_train),
        (f"Feldman-Zhang, k = {fz.k}", fz.k, "fz", round(fz.fraction * fz.data.n_train)),
    ):
        needed = units * (f[f"{pre}_train"] + f[f"{pre}_needed"]) / 1e12
        rows.append(
            {
                "estimator": name,
                "trainings": units,
                "epochs": units * e,
                "example_passes": units * e * n,
                "tflop_needed": needed,
                "tflop_all": needed + units * f[f"{pre}_extra"] / 1e12,
                "wall_s": sum(r.meta["wall_s"] for r in to_runs) if pre == "to" else fz.wall_s,
            }
        )
    return pd.DataFrame(rows)


def tradeoff(
    to_runs: list[ScoreRun], fz: FZRun, counts=(1, 3, 5), ks: list[int] | None = None
) -> pd.DataFrame:
    """Cost against agreement with a held-out reference: the Feldman-Zhang estimate of the second
    half of the models. Candidates: turn-over scores averaged over the first 1, 3, 5 seeds, and the
    Feldman-Zhang estimate of the first ``k`` models of the first half. Cost: ``tflop`` (training
    and the evaluation the scores need, :func:`flops`) and ``wall_s`` (turn-over: the runs'
    recorded times; ``k`` models: the run's measured time per model times ``k``)."""
    half = fz.k // 2
    ref = fz_estimate(fz.members[half:], fz.correct[half:])["mem"]
    corrupted = fz.data.corrupted.numpy()
    f = flops(fz)
    rows = []

    def row(estimator, units, tflop, wall, score):
        ok = ~np.isnan(score) & ~np.isnan(ref)
        rows.append(
            {
                "estimator": estimator,
                "units": units,
                "tflop": tflop,
                "wall_s": wall,
                "spearman": stats.spearman(score[ok], ref[ok]),
                "roc_auc": stats.roc_auc(score[ok], corrupted[ok]) if corrupted.any() else np.nan,
            }
        )

    for c in [c for c in counts if c <= len(to_runs)]:
        score = np.mean([r.table.score.to_numpy() for r in to_runs[:c]], 0)
        wall = sum(r.meta["wall_s"] for r in to_runs[:c])
        row("turn-over dropout", c, c * (f["to_train"] + f["to_needed"]) / 1e12, wall, score)
    ks = ks or _doublings(half)
    for k in ks:
        est = fz_estimate(fz.members[:k], fz.correct[:k])["mem"]
        tflop = k * (f["fz_train"] + f["fz_needed"]) / 1e12
        row("Feldman-Zhang", k, tflop, fz.wall_s * k / fz.k, est)
    return pd.DataFrame(rows)


def disagreements(turnover: np.ndarray, fz: pd.DataFrame, k: int) -> pd.DataFrame:
    """The ``k`` examples where the two estimators disagree most in each direction: rank
    percentiles (0-100) of the turn-over score and of the Feldman-Zhang estimate, and their
    difference ``gap`` (> 0: turn-over ranks the example more memorized)."""
    pct = lambda x: 100 * (pd.Series(x).rank(method="average").to_numpy() - 1) / (len(x) - 1)
    t = fz[["index", "label", "true_label", "corrupted", "mem", "se"]].assign(
        turnover=turnover, turnover_pct=pct(turnover), fz_pct=pct(fz["mem"].to_numpy())
    )
    t["gap"] = t.turnover_pct - t.fz_pct
    t = t.sort_values(["gap", "index"])
    return pd.concat(
        [
            t.tail(k).iloc[::-1].assign(direction="turn-over higher"),
            t.head(k).assign(direction="Feldman-Zhang higher"),
        ],
        ignore_index=True,
    )
