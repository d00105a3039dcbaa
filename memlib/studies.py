"""The paper's experiments as functions of a notebook's parameters and a seed (all cached).

Each returns a ``DynamicsRun`` whose history follows named subsets: the notebooks call these and
plot. Subsets are chosen from the data or from earlier runs' scores, never by hand.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import torch

from . import gradients as G
from . import stats
from .config import CorruptionStudy, DynamicsStudy, GroundTruthStudy, PartitionStudy
from .data import subset_indices
from .ensembles import eval_flops, train_flops
from .errors import MemlibError
from .experiment import (
    DynamicsRun,
    ScoreRun,
    dynamics_run,
    extremes,
    pick,
    run_data,
    score_run,
)
from .groundtruth import FZRun, fz_estimate, fz_run
from .masks import hash32

_PICK = 0x5E1EC7  # salt of the stream that picks the followed subsets


def random_label_dynamics(
    p: DynamicsStudy, seed: int, turnover: bool = False, label_noise: str = "other"
) -> DynamicsRun:
    """Figures 3 and 4: train on data with ``p.corrupt`` random labels, following ``easy`` (a
    random ``p.subset_size`` of the real-label examples) and ``difficult`` (as many random-label
    ones). The plain model also records gradient statistics (Eq. 3, 4) at ``p.grad_epochs()``.

    ``label_noise="uniform"`` draws the random labels from all classes (a tenth keep their true
    class); the history then also follows ``difficult_kept`` and ``difficult_changed``, the
    difficult examples whose random label is, or is not, their true class. Only the default
    ("other") records gradient statistics."""
    cfg = p.run(seed, turnover=turnover, label_noise=label_noise)
    data = run_data(cfg, device=None)
    corrupted = data.corrupted.cpu().numpy()
    s = hash32(seed ^ _PICK)
    subsets = {
        "easy": pick(~corrupted, p.subset_size, s),
        "difficult": pick(corrupted, p.subset_size, s + 1),
    }
    if label_noise != "other":
        kept = (data.y_train == data.true_y_train).cpu().numpy()
        subsets |= {
            "difficult_kept": subsets["difficult"] & kept,
            "difficult_changed": subsets["difficult"] & ~kept,
        }
    stats_on = not turnover and label_noise == "other"
    return dynamics_run(
        cfg,
        subsets=subsets,
        grad_epochs=p.grad_epochs() if stats_on else (),
        grad_groups=("easy", "difficult") if stats_on else (),
        grad_batches=p.grad_batches,
        profile=p.profile,
    )


def score_test_set(p: PartitionStudy, seed: int, n_test: int | None = None):
    """Memorization scores of the *test* examples: the Figure 2(a) recipe, trained on the test
    set (a turn-over model of its own, which the followed model never meets). With ``n_train``
    set, on a random subset of the test set of that size (at most all of it). ``n_test``: the
    test set's size, if the caller knows it. Returns a ScoreRun."""
    if p.n_train and n_test is None:
        n_test = len(run_data(p.run(seed), device=None).y_test)
    n = p.n_train and min(p.n_train, n_test)
    cfg = p.run(seed, split="test", n_train=n, corrupt=0)
    return score_run(cfg, profile=p.profile)


def _train_partition(p: PartitionStudy, seed: int):
    """The ``p.fraction`` lowest- and highest-score training examples (this seed's scoring run)."""
    scores = score_run(p.run(seed), profile=p.profile).table.score.to_numpy()
    return extremes(scores, round(p.fraction * len(scores)))


def partition_dynamics(p: PartitionStudy, seed: int, control: bool = False) -> DynamicsRun:
    """Figure 5(a,b): the ``p.fraction`` lowest- and highest-score examples of the training set
    (scores of the Figure 2(a) run of this seed) and of the test set (:func:`score_test_set`) are
    the easy and difficult subsets; a plain MLP trains for ``p.train_epochs`` and is followed on
    them. ``control`` leaves the difficult training subset out of training."""
    easy, difficult = _train_partition(p, seed)
    n_test = len(run_data(p.run(seed), device=None).y_test)
    test_run = score_test_set(p, seed, n_test)
    test = test_run.table.score.to_numpy()
    t_easy, t_difficult = extremes(test, round(p.fraction * len(test)))
    if len(test) < n_test:  # scored on a subset of the test set: masks over the whole of it
        keep = subset_indices(n_test, len(test), test_run.config.subset_seed).numpy()
        t_easy, t_difficult = (np.isin(np.arange(n_test), keep[m]) for m in (t_easy, t_difficult))
    cfg = p.followed(seed)
    return dynamics_run(
        cfg,
        subsets={"easy": easy, "difficult": difficult},
        test_subsets={"easy": t_easy, "difficult": t_difficult},
        exclude=difficult if control else None,
        profile=p.profile,
    )


def subset_training(p: PartitionStudy, seed: int, on: str) -> DynamicsRun:
    """Figure 6: the easy and difficult subsets of :func:`partition_dynamics` (same scores, same
    size), and a plain model trained for ``p.train_epochs`` on the one named ``on`` only; the
    history follows both (the other one is never trained on)."""
    if on not in ("easy", "difficult"):
        raise MemlibError(f"subset_training(on={on!r}): easy or difficult")
    easy, difficult = _train_partition(p, seed)
    cfg = p.followed(seed)
    return dynamics_run(
        cfg,
        subsets={"easy": easy, "difficult": difficult},
        exclude=~(easy if on == "easy" else difficult),
        test=False,
        profile=p.profile,
    )


def corruption_dynamics(p: CorruptionStudy, seed: int, level: float) -> DynamicsRun:
    """Figure 10: a plain model trained with ``round(level * N)`` random labels (N: the training
    set, after ``n_train``), followed on its random-label and real-label examples."""
    n = p.n_train or run_data(p.run(seed), device=None).n_train
    cfg = p.run(seed, turnover=False, corrupt=round(level * n))
    corrupted = run_data(cfg, device=None).corrupted.cpu().numpy()
    return dynamics_run(cfg, subsets={"random": corrupted, "real": ~corrupted}, profile=p.profile)


def mask_code_probe(run, batch_size: int = 500) -> dict[str, float]:
    """Does a turn-over model read its examples' masks instead of their images? The accuracy,
    against each training example's label, of its *unmuted* sub-network fed its own image
    (``real``), a blank image (``blank``, all zeros after standardization), or the next
    example's image (``swapped``). High accuracy without the real image means the mask pattern
    alone identifies the example: memorization by a per-example code."""
    data = run_data(dataclasses.replace(run.config, device="cpu"))
    model = run.model(data).eval()
    idx = torch.arange(data.n_train)
    inputs = {
        "real": data.x_train,
        "blank": torch.zeros_like(data.x_train),
        "swapped": data.x_train[torch.roll(idx, 1)],
    }
    out = {}
    with torch.no_grad():
        for name, x in inputs.items():
            pred = torch.cat(
                [
                    model(x[b : b + batch_size], idx[b : b + batch_size], "unmuted").argmax(1)
                    for b in range(0, len(idx), batch_size)
                ]
            )
            out[name] = (pred == data.y_train).float().mean().item()
    return out


def extremes_per_class(table: pd.DataFrame, k: int) -> pd.DataFrame:
    """Figures 7 and 8: the ``k`` lowest- and ``k`` highest-score training examples of every
    class (by the label trained on), with ``kind`` (lowest / highest) and ``rank`` (0 = most
    extreme). Rows keep ``score_table``'s columns."""
    parts = []
    for _, group in table.groupby("label"):
        g = group.sort_values(["score", "index"])
        for kind, rows in (("lowest", g.head(k)), ("highest", g.tail(k).iloc[::-1])):
            parts.append(rows.assign(kind=kind, rank=range(len(rows))))
    return pd.concat(parts, ignore_index=True)


def backpack_check(run: DynamicsRun, n_batches: int = 2, batch_size: int = 64, seed: int = 0):
    """The fast path against BackPACK on ``n_batches`` random training mini-batches of ``run``'s
    final model: the largest relative deviation of the cosine matrix and of the contributions."""
    data = run_data(dataclasses.replace(run.config, device="cpu"))
    model = run.model(data)
    gen = torch.Generator().manual_seed(seed)
    worst = {"cosine": 0.0, "contribution": 0.0}
    for _ in range(n_batches):
        b = torch.randperm(data.n_train, generator=gen)[:batch_size]
        x, y = data.x_train[b], data.y_train[b]
        fast = G.gram(G.factors(model, x, y))
        v = G.backpack_grads(model, x, y)
        ref = v @ v.T
        worst["cosine"] = max(worst["cosine"], G.max_rel_error(G.cosine(fast), G.cosine(ref)))
        err = G.max_rel_error(G.contributions(fast), G.contributions(ref))
        worst["contribution"] = max(worst["contribution"], err)
    return worst


# --- Ground truth (Feldman-Zhang) against turn-over dropout -------------------------------------


def ground_truth(p: GroundTruthStudy, corrupt: int) -> FZRun:
    """The Feldman-Zhang estimate of the condition with ``corrupt`` random labels."""
    return fz_run(p.ground_truth(corrupt), p.models, p.fraction, chunk=p.chunk, profile=p.profile)


def turnover_runs(p: GroundTruthStudy, corrupt: int) -> list[ScoreRun]:
    """One turn-over-dropout scoring run per seed on the same data (masks, init, order differ)."""
    return [score_run(p.turnover_run(s, corrupt), profile=p.profile) for s in p.seeds]


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
    n_boot: int,
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
            (name, single, fn(avg, fz), stats.bootstrap_ci(fn, avg, fz, n=n_boot, seed=seed))
        )
    if corrupted.any():
        auc = stats.roc_auc
        single = [auc(t, corrupted) for t in turnover]
        ci = stats.bootstrap_ci(auc, avg, corrupted, n=n_boot, seed=seed)
        rows.append(("roc_auc turn-over", single, auc(avg, corrupted), ci))
        ci = stats.bootstrap_ci(auc, fz, corrupted, n=n_boot, seed=seed)
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


def _flops(fz: FZRun) -> dict[str, float]:
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
    besides, see :func:`_flops`) and the wall time the cache recorded (everything it ran)."""
    f, e, s = _flops(fz), fz.config.epochs, len(to_runs)
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
    and the evaluation the scores need, :func:`_flops`) and ``wall_s`` (turn-over: the runs'
    recorded times; ``k`` models: the run's measured time per model times ``k``)."""
    half = fz.k // 2
    ref = fz_estimate(fz.members[half:], fz.correct[half:])["mem"]
    corrupted = fz.data.corrupted.numpy()
    f = _flops(fz)
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
    pct = lambda x: 100 * (pd.Series(x).rank(method="average").to_numpy() - 1) / (len(x) - 1)  # noqa: E731
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
