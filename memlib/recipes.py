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
_GALLERY = 0x6A11E7  # salt of the stream that picks the forgotten examples shown


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


def tied_runs(p) -> dict:
    """(dataset, seed) -> the example-tied ResNet-9 of every model of the chapter (Table 1)."""
    from .tied import tied_run

    return {(d, s): tied_run(p.config(d, s), p.dropout(s), profile=p.profile) for d, s in p.runs()}


def tied_grid(p) -> dict:
    """(p_gen, p_mem) -> the example-tied ResNet-9 of each cell of Table 2 (main dataset, first
    seed; the cell of Table 1's setting is Table 1's run)."""
    from .tied import tied_run

    cfg, s = p.config(p.datasets[0], p.seeds[0]), p.seeds[0]
    return {(g, m): tied_run(cfg, p.dropout(s, p_gen=g, p_mem=m), profile=p.profile)
            for g, m in p.grid}  # fmt: skip


def tied_baselines(p) -> dict:
    """Scheme -> the main dataset's first-seed ResNet-9 trained with it (Table 3): standard
    dropout, the sparse network and example-tied dropout."""
    from .tied import tied_run

    cfg, s = p.config(p.datasets[0], p.seeds[0]), p.seeds[0]
    schemes = ("dropout", "sparse", "tied")
    return {k: tied_run(cfg, p.dropout(s, k), profile=p.profile) for k in schemes}


def memorization_scores(p, dataset: str) -> dict:
    """Memorization estimates of the training examples of ``dataset``'s first-seed tied run
    (the same images and labels): the turn-over score of the page ``p.scorers[dataset]``'s
    recipe, and for ``p.fz_dataset`` the Feldman-Zhang estimate with that page's MLP recipe.
    Name -> the cached run (``ScoreRun`` or ``FZRun``)."""
    from .data import load_dataset
    from .groundtruth import fz_run

    tied = p.config(dataset, p.seeds[0])
    data = tied.data_config(load_dataset(dataset).n_train)
    fields = ("dataset", "n_train", "n_corrupt", "label_noise", "corrupt_seed", "subset_seed")
    page = p.scorers[dataset]
    study = params_for(page, load_profile(p.profile)[page])
    cfg = study.config(p.seeds[0], **{k: getattr(data, k) for k in fields})
    out = {"turn-over": score_run(cfg, profile=p.profile)}
    if dataset == p.fz_dataset:
        plain = dataclasses.replace(cfg, turnover=False)
        out["Feldman-Zhang"] = fz_run(plain, p.fz_models, study.fraction, chunk=study.chunk,
                                      profile=p.profile)  # fmt: skip
    return out


def accuracy_table(runs: dict, names: list[str]) -> pd.DataFrame:
    """The runs' accuracies (``TiedRun.accuracies``), one row per run, indexed by the runs'
    keys (named ``names``)."""
    keys = list(runs)
    index = (pd.MultiIndex.from_tuples(keys, names=names) if isinstance(keys[0], tuple)
             else pd.Index(keys, name=names[0]))  # fmt: skip
    return pd.DataFrame([r.accuracies() for r in runs.values()], index=index)


def table1(acc: pd.DataFrame) -> pd.DataFrame:
    """Table 1 as the paper prints it, ours (seed means) beside the paper's, in percent."""
    from .claims.tied import PAPER_TABLE1

    cols = ["clean_own", "noisy_own", "test_full", "clean_drop", "noisy_drop", "test_drop"]
    ours = acc.groupby(level=0, sort=False)[cols].mean() * 100
    paper = pd.DataFrame({d: np.ravel(v) * 100 for d, v in PAPER_TABLE1.items()}, index=cols).T
    out = pd.concat({"here": ours, "paper": paper.loc[paper.index.intersection(ours.index)]})
    out.columns = pd.MultiIndex.from_product([["before", "after"], ["clean", "noisy", "test"]])
    return out.swaplevel().sort_index(level=0, sort_remaining=False).round(1)


def rescaling(acc: pd.DataFrame) -> pd.DataFrame:
    """Accuracy after dropping the memorization channels under each rescaling of the
    generalization channels (seed means), in percent: one row per (dataset, rule)."""
    rules = {"drop": "active channels (ours)", "drop_paper": "public code's",
             "drop_unscaled": "none"}  # fmt: skip
    m = acc.groupby(level=0, sort=False).mean()
    rows = {(d, rule): [100 * r[f"{g}_{mode}"] for g in ("clean", "noisy", "test")]
            for d, r in m.iterrows() for mode, rule in rules.items()}  # fmt: skip
    out = pd.DataFrame(rows, index=["clean", "noisy", "test"]).T.round(1)
    return out.rename_axis(["dataset", "rescaling"])


def plain_run(p):
    """The main dataset's first-seed ResNet-9 without dropout (the chapter's other pages')."""
    from .localization import trajectory

    return trajectory(p.config(p.datasets[0], p.seeds[0]), profile=p.profile)


def baseline_table(runs: dict, plain) -> pd.DataFrame:
    """Table 3: clean, noisy and test accuracy at evaluation of the plain ResNet-9 and of each
    scheme (example-tied dropout: every channel, and the memorization channels dropped)."""
    last = plain.history.iloc[-1]
    rows = {"no dropout": (last.clean_acc, last.noisy_acc, last.test_acc)}
    for k, name in (("dropout", "dropout"), ("sparse", "sparse"), ("tied", "tied, full")):
        a = runs[k].accuracies()
        rows[name] = (a["clean_full"], a["noisy_full"], a["test_full"])
    a = runs["tied"].accuracies()
    rows["tied, dropped"] = (a["clean_drop"], a["noisy_drop"], a["test_drop"])
    return pd.DataFrame(rows, index=["clean", "noisy", "test"]).T.rename_axis("method")


def forgotten_tables(p, tied: dict) -> tuple[dict, dict, list]:
    """For each dataset of ``p.scorers``: one row per training example of its first-seed tied
    run (``tied``: Table 1's runs), with the memorization estimates of
    :func:`memorization_scores` as columns. Returns (dataset -> rows, dataset -> estimator
    names, the estimators' runs)."""
    tables, estimators, runs = {}, {}, []
    for d in p.scorers:
        rows = tied[d, p.seeds[0]].table()
        for name, run in memorization_scores(p, d).items():
            t = run.table if name == "turn-over" else run.scores()
            if not np.array_equal(t.label.to_numpy(), rows.label.to_numpy()):
                raise MemlibError(f"the {name} run of {d} has other labels than the tied run")
            rows[name] = t["score" if name == "turn-over" else "mem"].to_numpy()
            runs.append(run)
        tables[d] = rows
        estimators[d] = [c for c in rows.columns if c in ("turn-over", "Feldman-Zhang")]
    return tables, estimators, runs


def forgotten_gallery(p, dataset: str, rows: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """``p.n_gallery`` random forgotten clean examples of ``dataset`` (all, if fewer; ``rows``: its
    :func:`forgotten_tables` rows), with the turn-over score's percentile among the fitted clean
    examples (``pct``), and their images [K, C, H, W]."""
    from .claims.tied import forgotten
    from .localization.trajectory import load_data

    fitted = ~rows.corrupted & rows.correct_own
    rows = rows.assign(pct=rows["turn-over"].where(fitted).rank(pct=True))
    lost = forgotten(rows)
    picks = rows[pick(lost, min(p.n_gallery, int(lost.sum())), hash32(p.seeds[0] ^ _GALLERY))]
    data = load_data(p.config(dataset, p.seeds[0]), device=None)
    return picks, data.x_train[picks["index"].tolist()].cpu().numpy()
