"""Claims about the scores themselves: Figures 2(a), 2(b), 7 and 8."""

from __future__ import annotations

import numpy as np

from .. import stats
from .core import (
    Claim,
    Criterion,
    at_end,
    informative,
    lowest,
    make,
    ms,
    seeds,
    validated,
)

# --- Figure 2: the scores ------------------------------------------------------------------------


def fig2a_long_tail(runs) -> Claim:
    """§3.1: on clean MNIST the scores follow a long tail. Parts, every seed: the skewness of
    the scores is above 1; and the top decile of the positive scores holds more of their sum
    than an exponential distribution's top decile does of its (33%; a half-normal's: 26%),
    i.e. the tail is heavier than exponential. Partly: the skewness alone."""
    scores = [r.table.score.to_numpy() for r in runs]
    skew = [stats.skewness(s) for s in scores]
    top = [stats.top_share(s[s > 0], 0.1) if (s > 0).any() else np.nan for s in scores]
    parts = [
        Criterion(
            "long right tail",
            "skewness of the scores above 1, in every seed",
            ms(skew, ".2f"),
            lowest(skew) > 1,
            "§3.1 (a long tail, Feldman 2020)",
        ),
        Criterion(
            "heavier than exponential",
            "the top 10% of the positive scores hold more than 1/3 of their sum (an "
            "exponential distribution's top decile: 33%), in every seed",
            ms(top),
            lowest(top) > 1 / 3,
            "§3.1; threshold ours",
        ),
    ]
    numbers = {
        "examples per run": f"{len(scores[0]):,} ({seeds(runs)})",
        "skewness": ms(skew, ".2f"),
        "top-decile share of the positive scores": ms(top),
        "top-decile share of the plain sum": ms([stats.top_share(s, 0.1) for s in scores]),
        "median score": ms([float(np.median(s)) for s in scores]),
        "share of negative scores": ms([float((s < 0).mean()) for s in scores]),
    }
    return make(
        "fig2a_long_tail",
        "Figure 2(a)",
        "scores of clean MNIST follow a long tail",
        parts,
        partly=parts[0].passed,
        preconditions=[informative(runs)],
        numbers=numbers,
        key=("skewness of the scores", ms(skew, ".2f"), "a long tail, no number"),
    )


def fig2b_random_labels(runs) -> Claim:
    """§3.1: random-label examples score higher than clean ones. Holds: the medians are ordered
    and the ROC-AUC of the score for the random labels is at least 0.95, every seed; partly:
    ordered and at least 0.75. Precondition: the unmuted sub-networks fitted at least half of
    the random labels (otherwise no score can be high)."""
    tables = [r.table for r in runs]
    med_c = [float(t.score[t.corrupted].median()) for t in tables]
    med_u = [float(t.score[~t.corrupted].median()) for t in tables]
    auc = [stats.roc_auc(t.score, t.corrupted) for t in tables]
    ordered = all(c > u for c, u in zip(med_c, med_u, strict=True))
    fitted = at_end(runs, "unmuted_acc_corrupted")
    parts = [
        Criterion(
            "separates the random labels",
            "median score of random labels above the clean ones', and ROC-AUC at least 0.95, "
            "in every seed",
            f"AUC {ms(auc, '.4f')}; random labels' median "
            + ("above the clean one's" if ordered else "not above the clean one's"),
            ordered and lowest(auc) >= 0.95,
            "§3.1; threshold ours",
        ),
        Criterion(
            "ranks them higher",
            "medians ordered, and ROC-AUC at least 0.75, in every seed",
            f"lowest AUC {lowest(auc):.4f}",
            ordered and lowest(auc) >= 0.75,
            "§3.1; threshold ours",
        ),
    ]
    noise = Criterion(
        "noise fitted",
        "the unmuted sub-networks fit at least half of the random labels, in every seed",
        ms(fitted),
        lowest(fitted) >= 0.5,
        "ours",
    )
    t = tables[0]
    numbers = {
        "random / clean labels": f"{int(t.corrupted.sum()):,} / {int((~t.corrupted).sum()):,}",
        "median score, random labels": ms(med_c),
        "median score, clean": ms(med_u),
        "ROC-AUC (score → random label)": ms(auc, ".4f"),
    }
    return make(
        "fig2b_random_labels",
        "Figure 2(b)",
        "random labels get higher scores",
        parts,
        partly=parts[1].passed,
        preconditions=[informative(runs), noise],
        numbers=numbers,
        key=("ROC-AUC for the random labels", ms(auc, ".3f"), "higher, no number"),
    )


# --- Figures 7 and 8: the extremes of the scores -------------------------------------------------


def atypicality(images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each example's distance to the mean image of its class (by ``labels``), divided by the
    median such distance in the class: 1 is a typical distance, 2 twice as far. [N]"""
    x = np.asarray(images, dtype=np.float32).reshape(len(images), -1)
    d = np.empty(len(x))
    for c in np.unique(labels):
        m = labels == c
        d[m] = np.linalg.norm(x[m] - x[m].mean(0), axis=1)
        d[m] /= np.median(d[m])
    return d


def _gallery(runs, images, *, page, figure, dataset, twins=()) -> Claim:
    low, far, miss, unm = [], [], [], []
    dist = atypicality(images, runs[0].table.sort_values("index").label.to_numpy())
    for r in runs:
        t = r.table.sort_values(["score", "index"])
        n = max(1, round(0.01 * len(t)))
        lo, hi = t.head(n), t.tail(n)
        low.append(float(((lo.label == lo.pred_unmuted) & (lo.label == lo.pred_muted)).mean()))
        far.append(float(np.median(dist[hi["index"]]) / np.median(dist[lo["index"]])))
        miss.append(float((hi.pred_muted != hi.label).mean()))
        unm.append(float((hi.pred_unmuted == hi.label).mean()))
    parts = [
        Criterion(
            "typical low scores",
            "the whole triplet agrees (label = unmuted = muted) for at least 99% of the lowest "
            "1% of scores, in every seed",
            ms(low),
            lowest(low) >= 0.99,
            "Appendix C (both sub-networks agree); threshold ours",
        ),
        Criterion(
            "atypical high scores",
            "the highest 1% lie at least 25% farther from their class's mean image than the "
            "lowest 1% (medians; each distance relative to its class's median), in every seed",
            f"{ms(far, '.2f')} times as far",
            lowest(far) >= 1.25,
            "Appendix C (peculiar traits, read as atypical images); threshold ours",
        ),
    ]
    notes = [
        Criterion(
            "muted misses the high scores",
            "the muted sub-network misses the label of at least half of the highest 1% (nearly "
            "implied by the score's definition once the unmuted sub-network fits them)",
            ms(miss),
            lowest(miss) >= 0.5,
            "ours",
        )
    ]
    numbers = {
        "examples at each end": f"{n:,} ({seeds(runs)})",
        "lowest 1%: triplet agrees": ms(low),
        "distance to the class mean, highest / lowest 1%": ms(far, ".2f"),
        "highest 1%: unmuted fits the label": ms(unm),
        "highest 1%: muted misses the label": ms(miss),
    }
    return make(
        page,
        figure,
        f"low {dataset} scores typical, high ones peculiar",
        parts,
        partly=parts[0].passed,
        preconditions=[informative(runs), *validated(twins)],
        notes=notes,
        numbers=numbers,
        key=("lowest 1%: label = unmuted = muted", ms(low), "they agree, no number"),
    )


def fig7_gallery(runs, images) -> Claim:
    """Appendix C, Figure 7 (MNIST): the lowest 1% of scores are typical (label, unmuted and
    muted predictions agree for 99%); the highest 1% are peculiar, measured as atypical: at
    least 25% farther from their class's mean image than the lowest 1% (:func:`atypicality`;
    ``images`` [N, ...] the training images, in index order); every seed. Partly: the first.
    Precondition: the estimator is informative. Beside the verdict: how often the muted
    sub-network misses the high scores' labels."""
    return _gallery(runs, images, page="fig7_gallery", figure="Figure 7", dataset="MNIST")


def fig8_gallery_cifar(runs, images, twins=()) -> Claim:
    """Appendix C, Figure 8 (CIFAR-10): the rule of :func:`fig7_gallery`, and the precondition
    that the scoring setting is validated on planted labels (``twins``, :func:`core.validated`)."""
    return _gallery(
        runs, images, page="fig8_gallery_cifar", figure="Figure 8", dataset="CIFAR-10",
        twins=twins,
    )  # fmt: skip
