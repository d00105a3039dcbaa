"""Figure 1, per-example difficulty (Arpit et al. 2017): the page's parameters, recipe, figures."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ...errors import MemlibError
from .. import difficulty as diff
from ..conditions import Condition
from .base import DATA_NAMES, PageStudy, positive

CONDITIONS = ("real", "randX", "randY")  # each 100% of its kind, the paper's convention
COLORS = {"real": "tab:blue", "randX": "tab:orange", "randY": "tab:red"}


@dataclass(frozen=True, kw_only=True)
class DifficultyStudy(PageStudy):
    """Figure 1, per-example difficulty."""

    scorer: str  # the page whose turn-over run (clean labels) gives the training set and scores
    n_examples: int  # measured training examples (the paper: 1,000)
    widths: list[int]  # hidden ReLU layers of the MLP (the paper: 2 of 4,096)
    n_models: int  # random initializations and data orders per condition (the paper: 100)
    lr: float  # SGD learning rate, no momentum (the paper: 0.01)
    batch_size: int  # mini-batch size (the paper does not say)
    epochs: int  # training epochs before measuring (the paper: 1)
    condition_seed: int  # which pixels (randX) and labels (randY) are random
    n_bootstrap: int  # bootstrap resamples of the examples, for the intervals
    device: str = "auto"  # auto (cuda if available), cpu, cuda, ...

    def check(self) -> None:
        positive(self, "n_examples", "n_models", "lr", "batch_size", "epochs", "n_bootstrap")
        if not self.widths or min(self.widths) <= 0:
            raise MemlibError(f"bad parameter widths={list(self.widths)}: positive layer sizes")
        if self.n_models < 2:
            raise MemlibError(f"bad parameter n_models={self.n_models}: at least 2 runs")

    def data(self) -> dict:
        """The scorer page's data: dataset, n_train, subset_seed, and its clean turn-over run's
        config (``run``). Resolved from the profile, so that both pages see the same images."""
        from ...params import load_profile, params_for

        study = params_for(self.scorer, load_profile(self.profile)[self.scorer])
        cfg = study.turnover(study.seeds[0], 0)  # real data: no random labels
        return {"dataset": cfg.dataset, "n_train": cfg.n_train, "subset_seed": cfg.subset_seed,
                "run": cfg}  # fmt: skip

    def describe(self, short: bool = False) -> dict[str, str]:
        d = self.data()
        name = DATA_NAMES.get(d["dataset"], d["dataset"])
        n = f"{d['n_train']:,}" if d["n_train"] else "all"
        w = "×".join(map(str, self.widths))
        ep = f"{self.epochs} epoch{'s' * (self.epochs > 1)}"
        if short:
            return {"data": f"{name} {n}", "model": f"MLP {w}", "epochs": ep}
        return {
            "data": f"{name}, {n} training images (the turn-over run's): real, randX and randY; "
            f"{min(self.n_examples, d['n_train'] or self.n_examples):,} measured",
            "model": f"{self.n_models} MLPs per condition, hidden layers {w}, SGD (lr "
            f"{self.lr:g}, batch {self.batch_size})",
            "epochs": ep,
        }


@dataclass
class Difficulty:
    """What the page shows: the stacks (one DifficultyRun), the turn-over run, and one row per
    measured example (``table``: index, label, rate_<condition>, score)."""

    stacks: diff.DifficultyRun
    scorer: object
    table: pd.DataFrame
    n_runs: int

    def cached(self) -> list:
        return [self.stacks, self.scorer]


def run(p: DifficultyStudy) -> Difficulty:
    """Every condition's stack (seed ``p.seeds[0]``) and the clean turn-over run, on the same
    training images; fails if the images or labels differ."""
    from ...runs import run_data, score_run

    d = p.data()
    setup = diff.Setup(
        dataset=d["dataset"], n_train=d["n_train"], subset_seed=d["subset_seed"],
        n_examples=p.n_examples, widths=tuple(p.widths), n_models=p.n_models, lr=p.lr,
        batch_size=p.batch_size, epochs=p.epochs, seed=p.seeds[0],
        conditions=tuple(Condition(k, 1.0, seed=p.condition_seed) for k in CONDITIONS),
        device=p.device)  # fmt: skip
    stacks = diff.difficulty_run(setup, profile=p.profile)
    scorer = score_run(d["run"], profile=p.profile, progress=False)
    a = stacks.result.arrays
    idx = a["index"]
    scores = scorer.table.set_index("index")
    x = run_data(d["run"], "cpu").x_train[idx].flatten(1).double().sum(1).numpy()
    if not (np.allclose(x, a["pixel_sum"]) and
            np.array_equal(scores.label.to_numpy()[idx], a["label_real"])):  # fmt: skip
        raise MemlibError("the turn-over run's training images or labels differ from the stacks'")
    table = pd.DataFrame({"index": idx, "label": a["label_real"]})
    for k in CONDITIONS:
        table[f"rate_{k}"] = stacks.rates(k)
    table["score"] = scores.score.to_numpy()[idx]
    return Difficulty(stacks, scorer, table, p.n_models)


def curves(res: Difficulty, seed: int = 0) -> pd.DataFrame:
    """The figure's numbers: per condition, the sorted rates, the paper's Binomial reference
    (draws, sorted) and its expected curve; one row per rank."""
    n, out = len(res.table), {"rank": np.arange(len(res.table))}
    for k in CONDITIONS:
        r = res.table[f"rate_{k}"].to_numpy()
        out[k] = np.sort(r)
        out[f"{k}_binomial"] = diff.binomial_curve(r.mean(), res.n_runs, n, seed)
        out[f"{k}_expected"] = diff.binomial_quantiles(r.mean(), res.n_runs, n)
    return pd.DataFrame(out)


def figure(res: Difficulty) -> plt.Figure:
    """Figure 1: every measured example's misclassification rate over the runs, examples
    sorted (solid), and 1 draw per example of Binomial(runs, p̄)/runs, sorted (dashed): what
    equally hard examples would give."""
    c = curves(res)
    fig, ax = plt.subplots(figsize=(6.8, 4.8))
    for k in CONDITIONS:
        ax.plot(c["rank"], c[k], color=COLORS[k], lw=2.2, label=k)
        ax.plot(c["rank"], c[f"{k}_binomial"], color=COLORS[k], lw=1.4, ls="--",
                label=f"Binomial, p̄ of {k}")  # fmt: skip
    ax.set(xlabel="training examples, sorted by rate", ylabel="misclassification rate",
           ylim=(-0.02, 1.02), xlim=(0, len(c) - 1))  # fmt: skip
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=3, fontsize=10)
    return fig


def score_figure(res: Difficulty) -> plt.Figure:
    """Beyond the paper: the turn-over memorization score of every measured example against
    its real-data misclassification rate, the median score of each tenth of the rate range
    (symmetric log scale: linear within ±1)."""
    t = res.table
    jitter = np.random.default_rng(0).uniform(-0.004, 0.004, len(t))
    fig, ax = plt.subplots(figsize=(6.8, 3.8))
    ax.scatter(t.rate_real + jitter, t.score, s=8, alpha=0.4, color=COLORS["real"],
               label="one training example")  # fmt: skip
    bins = pd.cut(t.rate_real, np.linspace(0, 1, 11), include_lowest=True)
    med = t.groupby(bins, observed=True).agg(rate=("rate_real", "mean"), score=("score", "median"))
    ax.plot(med.rate, med.score, "k-o", lw=2, ms=5, label="median per tenth of the rates")
    ax.set(xlabel="misclassification rate after one epoch (real data)",
           ylabel="turn-over memorization score", xlim=(-0.02, 1.02))  # fmt: skip
    ax.set_yscale("symlog", linthresh=1.0)  # most scores near 0, a few tens
    ax.legend(loc="upper left")
    return fig


def summary(res: Difficulty) -> pd.DataFrame:
    """One row per condition: the mean rate, the dispersion ratio, and the shares of
    consistently easy and hard examples beside the Binomial's."""
    from ...claims.difficulty import summary as one

    rows = {}
    for k in CONDITIONS:
        s = one(res.table[f"rate_{k}"].to_numpy(), res.n_runs, n_boot=200)
        rows[k] = {"mean rate": s["p"], "dispersion": s["ratio"], "easy": s["easy"],
                   "easy (Binomial)": s["easy_binom"], "hard": s["hard"],
                   "hard (Binomial)": s["hard_binom"]}  # fmt: skip
    return pd.DataFrame(rows).T.round(3)
