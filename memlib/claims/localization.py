"""Maini et al. (2023), §4 to §6.1: where a network memorizes its mislabelled examples.

Every function takes the chapter's cached results by (dataset, seed): trajectories (``history``,
``grad_table()``, ``config``), and the analyses' tables. A precondition common to all: the model
memorized, i.e. predicts the redrawn labels of most noisy examples at the end of training;
without it there is nothing to localize.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import stats
from .core import Claim, Criterion, make, ms

MEMORIZED = 0.8  # final accuracy on the noisy examples' labels: the model memorized them
NOISY_SHARE = 0.5  # noisy/clean gradient contribution called "large" (the paper: about 1)
COSINE = -0.75  # §4.2: "below -0.75 for all epochs and layers during the majority"
GONE = 0.2  # noisy accuracy at most this: the memorization is removed (§5.1: <20% before it)
KEPT = 0.1  # clean accuracy within this of the final model's: the clean accuracy is kept
REDUNDANT = 0.8  # noisy accuracy reached while retraining a layer on clean data only
FEWER = 0.5  # noisy/clean ratio of the mean number of units to flip (the paper: 5.1/15.7)
DETECTS = 0.8  # ROC-AUC of "units needed" for mislabelled examples (the paper: 0.89)



def memorized(trajs: dict) -> Criterion:
    """Every model predicts the redrawn labels of at least MEMORIZED of its noisy examples."""
    acc = {k: float(t.history["noisy_acc"].iloc[-1]) for k, t in trajs.items()}
    return Criterion(
        "memorized",
        f"every model predicts the redrawn labels of at least {MEMORIZED:.0%} of its noisy "
        "training examples at the end of training",
        ", ".join(f"{d} seed {s}: {a:.3f}" for (d, s), a in acc.items()),
        min(acc.values()) >= MEMORIZED,
        "ours: nothing to localize otherwise",
    )


def window(cfg) -> tuple[int, int]:
    """The epochs where the paper's mislabelled examples are learned, 10 to 30 of 50, scaled
    to the run: from the lr peak to 60% of the epochs."""
    return cfg.peak_epoch, round(0.6 * cfg.epochs)


def gradient_summary(trajs: dict) -> pd.DataFrame:
    """Per dataset and layer, over seeds: the mean noisy/clean contribution ratio over all
    epochs, and the mean cosine and the share of epochs with cosine below COSINE in the window."""
    rows = []
    for (d, s), t in trajs.items():
        g, (lo, hi) = t.grad_table(), window(t.config)
        for layer, gl in g.groupby("layer", sort=False):
            w = gl[(gl.epoch >= lo) & (gl.epoch <= hi)]
            rows.append({"dataset": d, "seed": s, "layer": layer,
                         "ratio": float((gl.grad_noisy / gl.grad_clean).mean()),
                         "cos_window": float(w.grad_cos.mean()),
                         "below": float((w.grad_cos < COSINE).mean())})  # fmt: skip
    t = pd.DataFrame(rows)
    return t.groupby(["dataset", "layer"], sort=False)[["ratio", "cos_window", "below"]].mean()


def maini_gradients(trajs: dict) -> Claim:
    """§4, Figures 1-2, on the main (first) dataset, seeds averaged:

    1. *noisy share large*: in every layer, the noisy examples' gradient contribution (norm of
       their summed gradient per √parameters) is at least NOISY_SHARE of the clean examples'
       (averaged over epochs), though they are a tenth of the data;
    2. *opposed*: in the window of epochs where noisy examples are learned, the cosine between
       the clean and the noisy gradient is below COSINE in at least half of the (layer, epoch)
       cells.

    Partly: one of the two."""
    main = next(iter(trajs))[0]
    summ = gradient_summary(trajs)
    m = summ.loc[main]
    lo, hi = window(next(iter(trajs.values())).config)
    weakest = m.ratio.idxmin()
    parts = [
        Criterion("noisy share large",
                  f"in every layer the noisy examples' contribution is at least {NOISY_SHARE} "
                  "of the clean examples' (mean over epochs and seeds)",
                  f"lowest {m.ratio.min():.2f} ({weakest}), highest {m.ratio.max():.2f}",
                  bool((m.ratio >= NOISY_SHARE).all()), "§4.1 (about equal); threshold ours"),
        Criterion("opposed",
                  f"cosine(clean, noisy) below {COSINE} in at least half of the (layer, epoch) "
                  f"cells of epochs {lo}-{hi}",
                  f"{m.below.mean():.0%} of the cells; mean cosine {m.cos_window.mean():.2f}",
                  bool(m.below.mean() >= 0.5), "§4.2"),
    ]  # fmt: skip
    numbers = {
        f"{d}: {layer}": f"noisy/clean {r.ratio:.2f}; cosine in window {r.cos_window:.2f}"
        for (d, layer), r in summ.iterrows()
    }
    return make("maini_gradients", "Figures 1-2", "noisy examples pull every layer, against "
                "the clean ones", parts, partly=any(c.passed for c in parts), preconditions=[memorized(trajs)],
                numbers=numbers,
                key=(f"cosine, epochs {lo}-{hi}", f"{m.cos_window.mean():.2f}", "< -0.75"))  # fmt: skip


def localizing(grid: pd.DataFrame, final: dict) -> pd.DataFrame:
    """The (layer, epoch) cells of a rewinding grid whose rewinding removes the memorization
    (noisy accuracy at most GONE) and keeps the clean accuracy (within KEPT of ``final``'s)."""
    g = grid[grid.layer != "none"]
    return g[(g.noisy_acc <= GONE) & (g.clean_acc >= final["clean_acc"] - KEPT)]


def maini_rewinding(grids: dict, trajs: dict) -> Claim:
    """§5.1, Figure 3: no single layer's rewinding removes the memorized examples' accuracy
    while keeping the clean accuracy (``localizing``), in the seed-mean grid:

    1. on the main (first) dataset;
    2. on every other dataset rewound (if any).

    Partly: one of the two."""
    by_data: dict[str, list] = {}
    for (d, _), g in grids.items():
        by_data.setdefault(d, []).append(g)
    parts, numbers, main = [], {}, next(iter(grids))[0]
    for d, gs in by_data.items():
        g = pd.concat(gs).groupby(["layer", "epoch"], sort=False).mean(numeric_only=True).reset_index()
        hit = localizing(g, g[g.layer == "none"].iloc[-1])  # the final model, seeds averaged
        cells = [f"{r.layer} to epoch {r.epoch}" for r in hit.itertuples()]
        where = ", ".join(cells[:4]) + (f" and {len(cells) - 4} more" if len(cells) > 4 else "")
        where = where or "none"
        numbers[d] = where
        parts.append((d, hit, where))
    crit = lambda name, rows: Criterion(
        name, f"no (layer, epoch) brings the noisy accuracy to {GONE:.0%} or less while keeping "
        f"the clean accuracy within {KEPT * 100:.0f} points of the final model's (seed mean)",
        "; ".join(f"{d}: {w}" for d, _, w in rows),
        all(len(h) == 0 for _, h, _ in rows), "§5.1; thresholds ours")  # fmt: skip
    others = [p for p in parts if p[0] != main]
    crits = [crit(f"not localized in one layer ({main})", [p for p in parts if p[0] == main])]
    crits += [crit("not localized, other datasets", others)] if others else []
    return make("maini_rewinding", "Figure 3", "no single layer holds the memorization",
                crits, partly=any(c.passed for c in crits), preconditions=[memorized(trajs)], numbers=numbers,
                key=("layers localizing it", numbers.get(main, "-"), "none"))  # fmt: skip


def retrain_summary(tables: dict) -> pd.DataFrame:
    """Per (dataset, layer): the highest and the final noisy accuracy while retraining, and the
    final clean and test accuracy."""
    rows = []
    for (d, s), t in tables.items():
        for layer, g in t.groupby("layer", sort=False):
            after = g[g.epoch > 0]
            rows.append({"dataset": d, "layer": layer, "noisy_max": after.noisy_acc.max(),
                         "noisy_end": after.noisy_acc.iloc[-1],
                         "clean_end": after.clean_acc.iloc[-1], "test_end": after.test_acc.iloc[-1]})  # fmt: skip
    return pd.DataFrame(rows).set_index(["dataset", "layer"])


def maini_retraining(tables: dict, trajs: dict) -> Claim:
    """§5.2, Figure 4: retraining a layer from its initialization on clean examples only (the
    rest frozen) gives back the noisy examples' labels for most layers: a layer is redundant for
    memorization if the noisy accuracy reaches REDUNDANT at some retraining epoch. One part per
    dataset: at least half of the nine layers are redundant. Partly: some datasets."""
    summ = retrain_summary(tables)
    parts = []
    for d, g in summ.groupby(level=0, sort=False):
        red = g.noisy_max >= REDUNDANT
        names = [layer for (_, layer), r in zip(g.index, red) if r]
        parts.append(Criterion(
            f"most layers redundant ({d})",
            f"at least half of the layers reach {REDUNDANT:.0%} noisy accuracy while retrained "
            "on clean examples only",
            f"{int(red.sum())} of {len(g)}: {', '.join(names) or 'none'}",
            bool(red.mean() >= 0.5), "§5.2 (nearly 100% for most layers); threshold ours"))  # fmt: skip
    numbers = {f"{d}: {layer}": f"noisy max {r.noisy_max:.2f}, end {r.noisy_end:.2f}; clean "
               f"{r.clean_end:.2f}; test {r.test_end:.2f}" for (d, layer), r in summ.iterrows()}  # fmt: skip
    main = summ.loc[next(iter(tables))[0]]
    return make("maini_retraining", "Figure 4", "most layers are redundant for memorization",
                parts, partly=any(c.passed for c in parts), preconditions=[memorized(trajs)], numbers=numbers,
                key=("layers redundant", f"{int((main.noisy_max >= REDUNDANT).sum())} of "
                     f"{len(main)}", "most"))  # fmt: skip


def maini_neurons(removal: pd.DataFrame, baselines: dict[str, np.ndarray], trajs: dict,
                  max_steps: int) -> Claim:  # fmt: skip
    """§6.1, Figure 5, on one model's ``removal`` table (one row per example), with the
    ``baselines`` (name -> per-example detector score, higher = more likely mislabelled, over
    the same rows):

    1. *fewer for noisy*: the mean number of units zeroed to flip a noisy example is at most
       FEWER times the clean examples' (an example that never flips counts ``max_steps`` + 1);
    2. *detects mislabelled*: "few units needed" detects the noisy examples with ROC-AUC at
       least DETECTS.

    Partly: one of the two. Notes: the paper's 90% of noisy examples under 10 units, the
    accuracy drop on the rest of the training set, and the baselines' AUC."""
    n = removal.n.where(removal.flipped, max_steps + 1).to_numpy(float)
    noisy = removal.corrupted.to_numpy(bool)
    ratio = n[noisy].mean() / n[~noisy].mean()
    auc = stats.roc_auc(-n, noisy)
    drop = (removal.rest_before - removal.rest_after).to_numpy()
    parts = [
        Criterion("fewer for noisy", f"mean units to flip, noisy / clean, at most {FEWER}",
                  f"{n[noisy].mean():.1f} / {n[~noisy].mean():.1f} = {ratio:.2f}",
                  bool(ratio <= FEWER), "§6.1 (5.1 / 15.7 = 0.32); threshold ours"),
        Criterion("detects mislabelled", f"ROC-AUC of fewer units for noisy examples at least "
                  f"{DETECTS}", f"{auc:.3f}", bool(auc >= DETECTS), "§6.1 (0.89); threshold ours"),
    ]  # fmt: skip
    under = float((n[noisy] < 10).mean())
    notes = [
        Criterion("most noisy under 10", "more than 90% of the noisy examples flip with fewer "
                  "than 10 units", f"{under:.0%}", under > 0.9, "§6.1"),
        Criterion("smaller drop for noisy", "removing a noisy example's units costs the rest of "
                  "the training set less accuracy than a clean example's",
                  f"{drop[noisy].mean():.3f} / {drop[~noisy].mean():.3f}",
                  bool(drop[noisy].mean() < drop[~noisy].mean()), "§6.1, Figure 5(b)"),
    ]  # fmt: skip
    numbers = {
        "units to flip": f"noisy {ms(n[noisy], '.1f')}, clean {ms(n[~noisy], '.1f')}",
        "never flipped": f"{int((~removal.flipped[noisy]).sum())} noisy, "
        f"{int((~removal.flipped[~noisy]).sum())} clean (cap {max_steps})",
        "neurons AUC": f"{auc:.3f}",
    } | {f"{k} AUC": f"{stats.roc_auc(v, noisy):.3f}" for k, v in baselines.items()}
    return make("maini_neurons", "Figure 5", "memorized examples flip with fewer neurons",
                parts, partly=any(c.passed for c in parts), preconditions=[memorized(trajs)], notes=notes,
                numbers=numbers, key=("neurons AUC", f"{auc:.2f}", "0.89"))  # fmt: skip
