"""Claims about the scores themselves: Figures 2(a), 2(b), 7 and 8."""

from __future__ import annotations

import numpy as np

from .. import stats
from .core import (
    Claim,
    Criterion,
    at_end,
    informative,
    make,
    ms,
    seeds,
)

# --- Figure 2: the scores ------------------------------------------------------------------------


def fig2a_long_tail(runs) -> Claim:
    """§3.1: on clean MNIST the scores follow a long tail. Parts: skewness > 1, and the top
    decile holds > 30% of the positive part of the scores (an exponential: 33%), every seed.
    Partly: one of the two."""
    scores = [r.table.score.to_numpy() for r in runs]
    skew = [stats.skewness(s) for s in scores]
    top = [stats.top_share(np.clip(s, 0, None), 0.1) for s in scores]
    parts = [
        Criterion(
            "long right tail",
            "skewness of the scores above 1, in every seed",
            ms(skew, ".2f"),
            min(skew) > 1,
            "§3.1 (a long tail, Feldman 2020)",
        ),
        Criterion(
            "heavy top decile",
            "the top 10% of examples hold over 30% of the positive part of the scores, "
            "in every seed (an exponential distribution: 33%)",
            ms(top),
            min(top) > 0.3,
            "§3.1; threshold ours",
        ),
    ]
    numbers = {
        "examples per run": f"{len(scores[0]):,} ({seeds(runs)})",
        "skewness": ms(skew, ".2f"),
        "top-decile share of max(s, 0)": ms(top),
        "top-decile share of the plain sum": ms([stats.top_share(s, 0.1) for s in scores]),
        "median score": ms([float(np.median(s)) for s in scores]),
        "share of negative scores": ms([float((s < 0).mean()) for s in scores]),
    }
    return make(
        "fig2a_long_tail",
        "Figure 2(a)",
        "scores of clean MNIST follow a long tail",
        parts,
        partly=any(c.passed for c in parts),
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
            f"AUC {ms(auc, '.4f')}; medians ordered: {ordered}",
            ordered and min(auc) >= 0.95,
            "§3.1; threshold ours",
        ),
        Criterion(
            "ranks them higher",
            "medians ordered, and ROC-AUC at least 0.75, in every seed",
            f"lowest AUC {min(auc):.4f}",
            ordered and min(auc) >= 0.75,
            "§3.1; threshold ours",
        ),
    ]
    noise = Criterion(
        "noise fitted",
        "the unmuted sub-networks fit at least half of the random labels, in every seed",
        ms(fitted),
        min(fitted) >= 0.5,
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


def _gallery(runs, *, page, figure, dataset) -> Claim:
    low, high, miss, unm = [], [], [], []
    for r in runs:
        t = r.table.sort_values(["score", "index"])
        n = max(1, round(0.01 * len(t)))
        for rows, out in ((t.head(n), low), (t.tail(n), high)):
            out.append(
                float(((rows.label == rows.pred_unmuted) & (rows.label == rows.pred_muted)).mean())
            )
        miss.append(float((t.tail(n).pred_muted != t.tail(n).label).mean()))
        unm.append(float((t.tail(n).pred_unmuted == t.tail(n).label).mean()))
    parts = [
        Criterion(
            "typical low scores",
            "the whole triplet agrees (label = unmuted = muted) for at least 99% of the lowest "
            "1% of scores, in every seed",
            ms(low),
            min(low) >= 0.99,
            "Appendix C (both sub-networks agree); threshold ours",
        ),
        Criterion(
            "peculiar high scores",
            "the muted sub-network misses the label of at least half of the highest 1%, in "
            "every seed",
            ms(miss),
            min(miss) >= 0.5,
            "Appendix C (peculiar traits); threshold ours",
        ),
    ]
    numbers = {
        "examples at each end": f"{n:,} ({seeds(runs)})",
        "lowest 1%: triplet agrees": ms(low),
        "highest 1%: triplet agrees": ms(high),
        "highest 1%: unmuted fits the label": ms(unm),
        "highest 1%: muted misses the label": ms(miss),
    }
    return make(
        page,
        figure,
        f"low {dataset} scores typical, high ones peculiar",
        parts,
        partly=parts[0].passed,
        preconditions=[informative(runs)],
        numbers=numbers,
        key=("lowest 1%: label = unmuted = muted", ms(low), "they agree, no number"),
    )


def fig7_gallery(runs) -> Claim:
    """Appendix C, Figure 7 (MNIST): the lowest 1% of scores are typical (label, unmuted and
    muted predictions agree for 99%), the highest 1% peculiar (the muted sub-network misses at
    least half); every seed. Partly: the first. Precondition: the estimator is informative."""
    return _gallery(runs, page="fig7_gallery", figure="Figure 7", dataset="MNIST")


def fig8_gallery_cifar(runs) -> Claim:
    """Appendix C, Figure 8 (CIFAR-10): the rule of :func:`fig7_gallery`."""
    return _gallery(runs, page="fig8_gallery_cifar", figure="Figure 8", dataset="CIFAR-10")
