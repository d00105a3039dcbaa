"""Figure 2, first-layer filters (Arpit et al. 2017, §3.1): the page's parameters, recipe and
figure. The models are the unregularized real and randY runs of the regularizers page (the same
cached runs: the same CNN values sit in both pages' profiles)."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ...errors import MemlibError
from .. import regularizers as R
from ..filters import mean_ci, smoothness
from .regularizers import CNNStudy


@dataclass(frozen=True, kw_only=True)
class FiltersStudy(CNNStudy):
    """Figure 2, first-layer filters."""

    n_show: int  # filters shown per model (the first ones)
    n_boot: int  # bootstrap resamples of the filters for the intervals

    def check(self) -> None:
        super().check()
        if not 1 <= self.n_show <= self.channels():
            raise MemlibError(f"bad parameter n_show={self.n_show}: 1 to {self.channels()}")
        if self.n_boot < 100:
            raise MemlibError(f"bad parameter n_boot={self.n_boot}: at least 100")


def run(p: FiltersStudy) -> dict:
    """The unregularized real and randY runs of every seed, their filters (``filters``: model ->
    [seeds × K, 3, 5, 5], model one of real, randY, init) and per-filter smoothness
    (``table``: seed, filter, model, smoothness), and ``runs`` (their cached results)."""
    setup, runs, filters, rows = p.setup(), [], {"real": [], "randY": [], "init": []}, []
    reg = R.regularizer("none", 0.0)
    for seed in p.seeds:
        pair = {k: R.cnn_run(setup, k, reg, seed, p.meta()) for k in ("randY", "real")}
        runs += list(pair.values())
        got = {"real": pair["real"].arrays["filters"], "randY": pair["randY"].arrays["filters"],
               "init": pair["real"].arrays["filters_init"]}  # fmt: skip
        for model, w in got.items():
            filters[model].append(w)
            for i, s in enumerate(smoothness(w)):
                rows.append({"seed": seed, "filter": i, "model": model, "smoothness": s})
    table = pd.DataFrame(rows)
    acc = {k: [R.summary(r) for r in runs[i::2]] for i, k in enumerate(("randY", "real"))}
    return {"filters": {k: np.concatenate(v) for k, v in filters.items()}, "table": table,
            "runs": runs, "train_acc": {k: [a["train_acc"] for a in v] for k, v in acc.items()},
            "best_val": [a["best_val"] for a in acc["real"]]}  # fmt: skip


def compare(table: pd.DataFrame, n_boot: int = 1000) -> dict:
    """Mean smoothness of each model's filters and the paired differences (the same filter
    index and seed: the same initialization), each ``(mean, low, high)`` with a 95% bootstrap
    interval over filters: keys real, randY, init, real-init, randY-init, real-randY."""
    wide = table.pivot_table(index=["seed", "filter"], columns="model", values="smoothness")
    out = {m: mean_ci(wide[m], n_boot) for m in ("real", "randY", "init")}
    for a, b in (("real", "init"), ("randY", "init"), ("real", "randY")):
        out[f"{a}-{b}"] = mean_ci(wide[a] - wide[b], n_boot)
    return out


def _tile(w: np.ndarray, ncols: int) -> np.ndarray:
    """Filters [K, 3, h, w] as one RGB image, each scaled to [0, 1] on its own (the usual
    display: the sign and shape of the weights, not their size), one pixel of white between."""
    k, _, h, wd = w.shape
    rows = -(-k // ncols)
    out = np.ones((rows * (h + 1) - 1, ncols * (wd + 1) - 1, 3))
    for i, f in enumerate(w):
        f = (f - f.min()) / max(float(f.max() - f.min()), 1e-12)
        r, c = divmod(i, ncols)
        out[r * (h + 1) : r * (h + 1) + h, c * (wd + 1) : c * (wd + 1) + wd] = f.transpose(1, 2, 0)
    return out


def figure(filters: dict, table: pd.DataFrame, n_show: int) -> plt.Figure:
    """Figure 2: the first ``n_show`` first-layer filters of the first seed's model trained on
    real CIFAR-10 (left) and on randY (right); each panel's title gives the mean smoothness of
    all its filters."""
    ncols = int(np.ceil(np.sqrt(n_show)))
    means = table.groupby("model").smoothness.mean()
    rows = -(-n_show // ncols)
    fig, axes = plt.subplots(1, 2, figsize=(6.8, 3.4 * rows / ncols + 0.8))
    for ax, model, title in zip(axes, ("real", "randY"), ("real CIFAR-10", "randY"), strict=True):
        ax.imshow(_tile(filters[model][:n_show], ncols), interpolation="nearest")
        ax.set_title(f"{title}\nsmoothness {means[model]:.3f}", fontsize=12)
        ax.axis("off")
    return fig
