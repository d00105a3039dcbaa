"""The paper's experiments as recipes: a page's parameters and a seed in, cached runs out.

Each returns a ``DynamicsRun`` (or ``ScoreRun``) whose history follows named subsets: the
notebooks call these and plot. Subsets are chosen from the data or from earlier runs' scores,
never by hand; their masks are part of each run's cache key, so this module is outside the code
version.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from . import claims
from .data import subset_indices
from .errors import MemlibError
from .masks import hash32
from .params import (
    CorruptionStudy,
    DynamicsStudy,
    GridStudy,
    PartitionStudy,
    Study,
    load_profile,
    params_for,
)
from .runs import DynamicsRun, ScoreRun, dynamics_run, run_data, score_run

_PICK = 0x5E1EC7  # salt of the stream that picks the followed subsets


def random_label_dynamics(
    p: DynamicsStudy, seed: int, turnover: bool = False, label_noise: str = "other"
) -> DynamicsRun:
    """Figures 3 and 4: train on data with ``n_corrupt`` random labels, following ``easy`` (a
    random ``p.n_subset`` of the clean examples) and ``difficult`` (as many corrupted
    ones). The plain model also records gradient statistics (Eq. 3, 4) at ``p.grad_epochs()``.

    ``label_noise="uniform"`` draws the random labels from all classes (a tenth keep their true
    class); the history then also follows ``difficult_kept`` and ``difficult_changed``, the
    difficult examples whose random label is, or is not, their true class. Only the default
    ("other") records gradient statistics."""
    cfg = p.config(seed, turnover=turnover, label_noise=label_noise)
    data = run_data(cfg, device=None)
    corrupted = data.corrupted.cpu().numpy()
    s = hash32(seed ^ _PICK)
    subsets = {
        "easy": pick(~corrupted, p.n_subset, s),
        "difficult": pick(corrupted, p.n_subset, s + 1),
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
        n_grad_batches=p.n_grad_batches,
        profile=p.profile,
    )


def score_test_set(p: PartitionStudy, seed: int, n_test: int | None = None):
    """Memorization scores of the *test* examples: the Figure 2(a) recipe, trained on the test
    set (a turn-over model of its own, which the followed model never meets). With ``n_train``
    set, on a random subset of the test set of that size (at most all of it). ``n_test``: the
    test set's size, if the caller knows it. Returns a ScoreRun."""
    base = p.config(seed)
    if base.n_train and n_test is None:
        n_test = len(run_data(base, device=None).y_test)
    n = base.n_train and min(base.n_train, n_test)
    cfg = p.config(seed, split="test", n_train=n, n_corrupt=0)
    return score_run(cfg, profile=p.profile)


def _train_partition(p: PartitionStudy, seed: int):
    """The ``p.fraction`` lowest- and highest-score training examples (this seed's scoring run)."""
    scores = score_run(p.config(seed), profile=p.profile).table.score.to_numpy()
    return extremes(scores, round(p.fraction * len(scores)))


def partition_dynamics(p: PartitionStudy, seed: int, control: bool = False) -> DynamicsRun:
    """Figure 5(a,b): the ``p.fraction`` lowest- and highest-score examples of the training set
    (scores of the Figure 2(a) run of this seed) and of the test set (:func:`score_test_set`) are
    the easy and difficult subsets; a plain MLP trains for ``p.train_epochs`` and is followed on
    them. ``control`` leaves the difficult training subset out of training."""
    easy, difficult = _train_partition(p, seed)
    n_test = len(run_data(p.config(seed), device=None).y_test)
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
    set, after ``n_train``), followed on its corrupted (random-label) and clean examples."""
    base = p.config(seed)
    n = base.n_train or run_data(base, device=None).n_train
    cfg = p.config(seed, turnover=False, n_corrupt=round(level * n))
    corrupted = run_data(cfg, device=None).corrupted.cpu().numpy()
    return dynamics_run(
        cfg, subsets={"corrupted": corrupted, "clean": ~corrupted}, profile=p.profile
    )


def grid_run(g: GridStudy, name: str, seed: int) -> ScoreRun:
    """A grid point's scoring run (``control``: the MLP control), with ``g.planted`` of its
    training examples given a random label: the planted labels an estimator must rank first."""
    return score_run(_planted(g.point(name, seed), g.planted), profile=g.profile)


def _planted(cfg, share: float):
    """``cfg`` with a random label on ``share`` of its training examples."""
    n = cfg.n_train or run_data(cfg, device=None).n_train
    return dataclasses.replace(cfg, n_corrupt=round(share * n))


def grid_runs(g: GridStudy) -> tuple[dict[str, list[ScoreRun]], list[ScoreRun]]:
    """Every grid point's run with the first seed, the MLP control with every seed, then the
    paper's design (the point that changes nothing) and the setting the grid selects
    (``claims.select_setting``) with the other seeds. Returns (point -> runs, control runs)."""
    points = {name: [grid_run(g, name, g.seeds[0])] for name in g.grid}
    control = [grid_run(g, "control", s) for s in g.seeds]
    chance = 1 / claims.core.n_classes(points[g.base()])
    choice, _ = claims.select_setting(claims.grid_table(points), chance)
    for name in dict.fromkeys(n for n in (g.base(), choice) if n is not None):
        points[name] += [grid_run(g, name, s) for s in g.seeds[1:]]
    return points, control


def twin_config(p: Study, seed: int):
    """The planted-label twin of a CIFAR-10 page's scoring run: the page's setting with the
    labels, evaluation and probe of the grid page (``convnet_scores`` of the same profile)."""
    g = params_for("convnet_scores", load_profile(p.profile)["convnet_scores"])
    base = g.config(seed)
    return _planted(p.config(seed, eval_every=base.eval_every, probe=base.probe), g.planted)


def planted_twins(p: Study) -> list[ScoreRun]:
    """The planted-label twins (:func:`twin_config`) of a page's scoring runs, one per seed:
    served from the grid page's cache when the page uses the setting the grid selected."""
    return [score_run(twin_config(p, seed), profile=p.profile) for seed in p.seeds]


def pages_setting(profile: str):
    """The planted-label twin of the CIFAR-10 pages' scoring run (Figure 5(c,d), first seed)."""
    name = "fig5cd_easy_difficult_cifar"
    p = params_for(name, load_profile(profile)[name])
    return twin_config(p, p.seeds[0])


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


def pick(mask: np.ndarray, k: int, seed: int) -> np.ndarray:
    """A boolean mask of ``k`` positions drawn at random (seeded) among ``mask``'s True ones."""
    where = np.flatnonzero(mask)
    if k > len(where):
        raise MemlibError(f"cannot pick {k} examples from a group of {len(where)}")
    out = np.zeros(len(mask), bool)
    out[np.random.default_rng(seed).choice(where, k, replace=False)] = True
    return out


def extremes(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks of the ``k`` lowest and the ``k`` highest scores (ties broken by index)."""
    order = np.argsort(np.asarray(scores), kind="stable")
    low, high = np.zeros(len(order), bool), np.zeros(len(order), bool)
    low[order[:k]], high[order[len(order) - k :]] = True, True
    return low, high


# --- Maini et al. (2023): the chapter's models and analyses -----------------------------------


def localization_runs(p) -> dict:
    """(dataset, seed) -> the cached ResNet-9 trajectory of every model of the chapter."""
    from .localization import trajectory

    return {(d, s): trajectory(p.config(d, s), profile=p.profile) for d, s in p.runs()}


def rewinding(p, trajs: dict) -> dict:
    """(dataset, seed) -> the rewinding grid of the models of ``p.rewind_datasets``."""
    from .localization import studies

    return {k: studies.rewinding(t, p.rewind_epochs, p.n_eval_clean, p.n_eval_test)
            for k, t in trajs.items() if k[0] in p.rewind_datasets}  # fmt: skip


def retraining(p, trajs: dict) -> dict:
    """(dataset, seed) -> layer retraining of the first seed's models of ``p.retrain_datasets``."""
    from .localization import studies
    from .localization.layers import Retraining

    r = Retraining(epochs=p.retrain_epochs, peak_epoch=p.retrain_peak, lr=p.lr,
                   batch_size=p.batch_size, bf16=p.bf16)  # fmt: skip
    return {k: studies.retraining(t, r, p.n_eval_clean, p.n_eval_test) for k, t in trajs.items()
            if k[0] in p.retrain_datasets and k[1] == p.seeds[0]}  # fmt: skip


def removal(p, traj):
    """Greedy neuron removal on one model, with the profile's settings."""
    from .localization import studies

    return studies.removal(traj, p.n_per_group, n_ref=p.n_ref, n_noise=p.n_noise,
                           sigma=p.sigma, max_steps=p.max_steps, n_rest=p.n_rest)  # fmt: skip


def detection_baselines(p, traj) -> tuple[dict[str, np.ndarray], object]:
    """The two baselines that flag mislabelled examples, as scores over every training example
    (higher: more likely mislabelled): learning time, and minus the second-split forgetting
    time; with the forgetting run (for its provenance)."""
    from .localization import studies

    forget = studies.forgetting_time(traj, p.forget_epochs, p.n_second)
    scores = {
        "learning time": studies.learning_time(traj.arrays["correct"]).astype(float),
        "forgetting time": -forget.table.forgetting_time.to_numpy(float),
    }
    return scores, forget
