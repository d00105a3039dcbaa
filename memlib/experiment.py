"""One call from parameters to scores: data, model, training, cache (the notebooks' front door)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import joblib
import numpy as np
import pandas as pd
import torch

from .config import RunConfig, resolve_device
from .data import load_dataset
from .errors import MemlibError
from .gradients import epoch_stats
from .masks import hash32
from .models import build_model
from .results import Result, cached
from .scores import COLUMNS, score_table
from .training import Schedule, train

# Salts that turn one user seed into independent streams.
_INIT, _ORDER, _CORRUPT, _STATS = 0x1A2B3C, 0x4D5E6F, 0x7A8B9C, 0x2C3D4E


@dataclass
class _Run:
    """A cached training run: its config and the stored result (history, arrays, provenance)."""

    config: RunConfig
    result: Result

    @property
    def history(self) -> pd.DataFrame:
        return self.result.history

    @property
    def meta(self) -> dict:
        return self.result.meta

    def provenance(self) -> str:
        return self.result.provenance()

    def model(self, data=None) -> torch.nn.Module:
        """The trained model, on the CPU. ``data``: the run's dataset if the caller has it
        (``run_data``), which saves loading it again for the model's shape."""
        cfg = dataclasses.replace(self.config, device="cpu")
        model = run_model(cfg, (data or run_data(cfg)).to("cpu"))
        model.load_state_dict(torch.load(self.result.path / "model.pt", map_location="cpu"))
        return model


@dataclass
class ScoreRun(_Run):
    """The outcome of :func:`score_run`.

    table: one row per training example (``scores.COLUMNS``); history: one row per epoch
    (0 = before training); epoch_scores [E + 1, N]: every example's score after every epoch.
    """

    @property
    def table(self) -> pd.DataFrame:
        a = self.result.arrays
        return pd.DataFrame({c: a[c] for c in COLUMNS})

    @property
    def epoch_scores(self) -> np.ndarray:
        return self.result.arrays["epoch_scores"]


def run_data(cfg: RunConfig, device: torch.device | None = None):
    """The dataset of a run, with its corrupted labels, exactly as the run sees it."""
    data = load_dataset(
        cfg.dataset,
        corrupt=cfg.corrupt,
        corrupt_seed=hash32(cfg.corrupt_seed ^ _CORRUPT),
        label_noise=cfg.label_noise,
        n_train=cfg.n_train,
        subset_seed=cfg.subset_seed,
        split=cfg.split,
        device=device or resolve_device(cfg.device),
    )
    return data.channels_last() if cfg.channels_last else data


def run_model(cfg: RunConfig, data) -> torch.nn.Module:
    """The run's model at initialization, on the data's device."""
    model = build_model(
        cfg.arch,
        data.input_shape,
        data.n_classes,
        hidden=cfg.hidden,
        turnover=cfg.turnover,
        mask_seed=cfg.mask_seed,
        init_seed=hash32(cfg.init_seed ^ _INIT),
        width=cfg.width,
    )
    fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
    return model.to(data.x_train.device, memory_format=fmt)


def _schedule(cfg: RunConfig) -> Schedule:
    return Schedule(
        lr=cfg.lr,
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        momentum=cfg.momentum,
        optimizer=cfg.optimizer,
        milestones=cfg.milestones,
        bf16=cfg.bf16,
    )


def score_run(cfg: RunConfig, *, profile: str = "", progress: bool = True) -> ScoreRun:
    """Train ``cfg``'s turn-over-dropout model and score every training example (cached)."""
    device = resolve_device(cfg.device)

    def compute(folder):
        data = run_data(cfg, device)
        if cfg.split == "test":  # scoring the test set: the other split needs no evaluation
            data = _without_test(data)
        model = run_model(cfg, data)
        subsets = {"corrupted": data.corrupted, "clean": ~data.corrupted} if cfg.corrupt else {}
        trained = train(
            model,
            data,
            _schedule(cfg),
            order_seed=hash32(cfg.order_seed ^ _ORDER),
            subsets=subsets,
            checkpoint=folder / "checkpoint.pt",
            progress=progress,
        )
        table = score_table(data, trained.train_eval)
        torch.save(model.state_dict(), folder / "model.pt")
        arrays = {c: table[c].to_numpy() for c in COLUMNS} | {"epoch_scores": trained.epoch_scores}
        meta["source"] = data.source  # provenance is written after compute returns
        return pd.DataFrame(trained.history), arrays

    meta = {"profile": profile, "device": _describe(device)}
    return ScoreRun(cfg, cached("score_run", cfg.key(), compute, meta=meta))


@dataclass
class DynamicsRun(_Run):
    """The outcome of :func:`dynamics_run`: ``history`` has one row per epoch (0 = before
    training) with ``train_acc_<subset>``, ``test_acc_<subset>`` and the gradient statistics
    ``cos_<group>``, ``contrib_<group>``, ``contrib_all`` where they were computed."""

    def subsets(self, split: str = "train") -> dict[str, np.ndarray]:
        """The followed subsets (name -> boolean mask) of the ``train`` or ``test`` split."""
        pre = "subset_" if split == "train" else "test_subset_"
        return {k[len(pre) :]: v for k, v in self.result.arrays.items() if k.startswith(pre)}


def dynamics_run(
    cfg: RunConfig,
    *,
    subsets: dict[str, np.ndarray] | None = None,
    test_subsets: dict[str, np.ndarray] | None = None,
    exclude: np.ndarray | None = None,
    grad_epochs: tuple[int, ...] = (),
    grad_groups: tuple[str, ...] = (),
    grad_batches: int = 40,
    test: bool = True,
    profile: str = "",
    progress: bool = True,
) -> DynamicsRun:
    """Train ``cfg``'s model and follow named subsets of the training and test sets (cached).

    subsets / test_subsets: name -> boolean mask over the training / test examples. exclude: a
    boolean mask of training examples left out of training (still evaluated). At ``grad_epochs``
    the history gets :func:`gradients.epoch_stats` for the subsets named in ``grad_groups``,
    with ``grad_batches`` random mini-batches for the contributions. ``test=False`` skips the
    test set (its history columns are NaN): for runs that only follow training subsets.
    """
    device = resolve_device(cfg.device)
    as_bool = lambda d: {k: np.asarray(v, bool) for k, v in (d or {}).items()}  # noqa: E731
    subsets, test_subsets = as_bool(subsets), as_bool(test_subsets)
    exclude = None if exclude is None else np.asarray(exclude, bool)
    unknown = set(grad_groups) - set(subsets)
    if unknown:
        raise MemlibError(f"grad_groups {sorted(unknown)} are not subsets: {sorted(subsets)}")
    key = cfg.key() | {
        "subsets": {k: joblib.hash(v) for k, v in subsets.items()},
        "test_subsets": {k: joblib.hash(v) for k, v in test_subsets.items()},
        "exclude": None if exclude is None else joblib.hash(exclude),
        "grad": [list(grad_epochs), list(grad_groups), grad_batches],
        "test": test,
    }

    def compute(folder):
        data = run_data(cfg, device)
        if not test:
            data = _without_test(data)
        model = run_model(cfg, data)
        as_t = lambda m: torch.as_tensor(m, device=device)  # noqa: E731
        groups = {g: as_t(subsets[g]) for g in grad_groups}
        stats_seed = hash32(cfg.order_seed ^ _STATS)

        def callback(model, epoch):
            if epoch not in grad_epochs:
                return {}
            return epoch_stats(
                model,
                data.x_train,
                data.y_train,
                groups,
                n_batches=grad_batches,
                batch_size=cfg.batch_size,
                seed=stats_seed + epoch,
            )

        trained = train(
            model,
            data,
            _schedule(cfg),
            order_seed=hash32(cfg.order_seed ^ _ORDER),
            train_idx=None if exclude is None else ~as_t(exclude),
            subsets={k: as_t(v) for k, v in subsets.items()},
            test_subsets={k: as_t(v) for k, v in test_subsets.items()},
            checkpoint=folder / "checkpoint.pt",
            progress=progress,
            callback=callback,
        )
        torch.save(model.state_dict(), folder / "model.pt")
        meta["source"] = data.source
        arrays = {f"subset_{k}": v for k, v in subsets.items()}
        arrays |= {f"test_subset_{k}": v for k, v in test_subsets.items()}
        if exclude is not None:
            arrays["exclude"] = exclude
        return pd.DataFrame(trained.history), arrays

    meta = {"profile": profile, "device": _describe(device)}
    return DynamicsRun(cfg, cached("dynamics_run", key, compute, meta=meta))


def _without_test(data):
    """The dataset with an empty test split: training never evaluates it (history: NaN)."""
    return dataclasses.replace(data, x_test=data.x_test[:0], y_test=data.y_test[:0])


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


def _describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"
