"""Cached training runs: a config's data, model and training, saved with what they produced.

Every run goes through one path, :func:`cached_run`: the result is looked up by its config (and
what else identifies it), or computed, with the trained weights, and saved with its provenance.
:func:`score_run` scores every training example with turn-over dropout; :func:`dynamics_run`
follows named subsets through training. The Feldman-Zhang ensembles (:mod:`memlib.groundtruth`)
take the same path.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import torch

from . import lookup
from .config import RunConfig, describe_device, resolve_device
from .data import load_dataset
from .errors import MemlibError
from .gradients import epoch_stats
from .masks import hash32
from .models import build_model
from .results import Computed, Result, cached
from .scores import COLUMNS, score_table
from .training import Trained, train

# Salts that turn one user seed into independent streams.
_INIT, _ORDER, _CORRUPT, _STATS = 0x1A2B3C, 0x4D5E6F, 0x7A8B9C, 0x2C3D4E
_PROBE = 0x6E7F80


@dataclass
class CachedRun:
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
class ScoreRun(CachedRun):
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
        n_corrupt=cfg.n_corrupt,
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
        mask_pairs=cfg.mask_pairs,
        vgg={"mask_last": cfg.mask_last, "mask_scale": cfg.mask_scale, "conv_bias": cfg.conv_bias},
    )
    fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
    return model.to(data.x_train.device, memory_format=fmt)


def cached_run(
    kind: str,
    cfg: RunConfig,
    compute: Callable[[Path, torch.device], Computed],
    *,
    key: dict | None = None,
    profile: str = "",
) -> Result:
    """The one train-and-cache path: the cached result of ``kind`` for ``cfg`` (and ``key``, what
    else identifies it), or ``compute(folder, device)``'s, saved with its provenance (``profile``,
    the device). ``compute`` checkpoints into ``folder`` and saves any weights there."""
    device = resolve_device(cfg.device)
    meta = {"profile": profile, "device": describe_device(device)}
    return cached(kind, cfg.key() | (key or {}), lambda f: compute(f, device), meta=meta)


def train_and_save(cfg: RunConfig, data, folder: Path, *, progress: bool, **train_kw) -> Trained:
    """Train ``cfg``'s model on ``data`` (checkpointed in ``folder``, resumed from there) and save
    its weights as ``folder/model.pt``. ``train_kw``: :func:`training.train`'s options."""
    model = run_model(cfg, data)
    order_seed = hash32(cfg.order_seed ^ _ORDER)
    ckpt = folder / "checkpoint.pt"
    sched = cfg.schedule()
    trained = train(
        model, data, sched, order_seed=order_seed, checkpoint=ckpt, progress=progress, **train_kw
    )
    torch.save(model.state_dict(), folder / "model.pt")
    return trained


def score_run(cfg: RunConfig, *, profile: str = "", progress: bool = True) -> ScoreRun:
    """Train ``cfg``'s turn-over-dropout model and score every training example (cached)."""

    def compute(folder: Path, device: torch.device) -> Computed:
        data = run_data(cfg, device)
        if cfg.split == "test":  # scoring the test set: the other split needs no evaluation
            data = _without_test(data)
        subsets = {"corrupted": data.corrupted, "clean": ~data.corrupted} if cfg.n_corrupt else {}
        trained = train_and_save(
            cfg, data, folder, progress=progress, subsets=subsets, callback=_probe(cfg, data)
        )
        table = score_table(data, trained.train_eval)
        arrays = {c: table[c].to_numpy() for c in COLUMNS} | {"epoch_scores": trained.epoch_scores}
        return Computed(pd.DataFrame(trained.history), arrays, {"source": data.source})

    return ScoreRun(cfg, cached_run("score_run", cfg, compute, profile=profile))


@dataclass
class DynamicsRun(CachedRun):
    """The outcome of :func:`dynamics_run`: ``history`` has one row per epoch (0 = before
    training) with ``train_acc_<subset>``, ``test_acc_<subset>`` and the gradient statistics
    ``cos_<group>``, ``contrib_<group>``, ``contrib_all`` where they were computed."""

    def subsets(self, split: str = "train") -> dict[str, np.ndarray]:
        """The followed subsets (name -> boolean mask) of the ``train`` or ``test`` split."""
        pre = "subset_" if split == "train" else "test_subset_"
        return {k[len(pre) :]: v for k, v in self.result.arrays.items() if k.startswith(pre)}


@dataclass(frozen=True)
class Following:
    """What a dynamics run follows and leaves out (see :func:`dynamics_run`)."""

    subsets: dict[str, np.ndarray]
    test_subsets: dict[str, np.ndarray]
    exclude: np.ndarray | None
    grad_epochs: tuple[int, ...]
    grad_groups: tuple[str, ...]
    n_grad_batches: int
    test: bool

    def key(self) -> dict:
        """What identifies the run besides its config: each mask by its hash."""
        return {
            "subsets": {k: joblib.hash(v) for k, v in self.subsets.items()},
            "test_subsets": {k: joblib.hash(v) for k, v in self.test_subsets.items()},
            "exclude": None if self.exclude is None else joblib.hash(self.exclude),
            "grad": [list(self.grad_epochs), list(self.grad_groups), self.n_grad_batches],
            "test": self.test,
        }

    def arrays(self) -> dict[str, np.ndarray]:
        """The masks, saved with the run."""
        out = {f"subset_{k}": v for k, v in self.subsets.items()}
        out |= {f"test_subset_{k}": v for k, v in self.test_subsets.items()}
        return out | ({} if self.exclude is None else {"exclude": self.exclude})


def dynamics_run(
    cfg: RunConfig,
    *,
    subsets: dict[str, np.ndarray] | None = None,
    test_subsets: dict[str, np.ndarray] | None = None,
    exclude: np.ndarray | None = None,
    grad_epochs: tuple[int, ...] = (),
    grad_groups: tuple[str, ...] = (),
    n_grad_batches: int = 40,
    test: bool = True,
    profile: str = "",
    progress: bool = True,
) -> DynamicsRun:
    """Train ``cfg``'s model and follow named subsets of the training and test sets (cached).

    subsets / test_subsets: name -> boolean mask over the training / test examples. exclude: a
    boolean mask of training examples left out of training (still evaluated). At ``grad_epochs``
    the history gets :func:`gradients.epoch_stats` for the subsets named in ``grad_groups``,
    with ``n_grad_batches`` random mini-batches for the contributions. ``test=False`` skips the
    test set (its history columns are NaN): for runs that only follow training subsets.
    """
    as_bool = lambda d: {k: np.asarray(v, bool) for k, v in (d or {}).items()}
    follow = Following(
        as_bool(subsets),
        as_bool(test_subsets),
        None if exclude is None else np.asarray(exclude, bool),
        tuple(grad_epochs),
        tuple(grad_groups),
        n_grad_batches,
        test,
    )
    unknown = set(grad_groups) - set(follow.subsets)
    if unknown:
        raise MemlibError(
            f"grad_groups {sorted(unknown)} are not subsets: {sorted(follow.subsets)}"
        )

    def compute(folder: Path, device: torch.device) -> Computed:
        data = run_data(cfg, device)
        data = data if test else _without_test(data)
        on = lambda d: {k: torch.as_tensor(v, device=device) for k, v in d.items()}
        trained = train_and_save(
            cfg,
            data,
            folder,
            progress=progress,
            train_idx=None if exclude is None else ~torch.as_tensor(follow.exclude, device=device),
            subsets=on(follow.subsets),
            test_subsets=on(follow.test_subsets),
            callback=_gradient_stats(cfg, data, follow, on(follow.subsets)),
        )
        return Computed(pd.DataFrame(trained.history), follow.arrays(), {"source": data.source})

    result = cached_run("dynamics_run", cfg, compute, key=follow.key(), profile=profile)
    return DynamicsRun(cfg, result)


def _gradient_stats(cfg: RunConfig, data, follow: Following, masks: dict) -> Callable:
    """The training callback that adds :func:`gradients.epoch_stats` at ``follow.grad_epochs``."""
    groups = {g: masks[g] for g in follow.grad_groups}
    seed = hash32(cfg.order_seed ^ _STATS)

    def callback(model, epoch: int) -> dict:
        if epoch not in follow.grad_epochs:
            return {}
        return epoch_stats(
            model,
            data.x_train,
            data.y_train,
            groups,
            n_batches=follow.n_grad_batches,
            batch_size=cfg.batch_size,
            seed=seed + epoch,
        )

    return callback


def _probe(cfg: RunConfig, data) -> Callable | None:
    """The training callback that adds the mask-code probe (``lookup``) on ``cfg.probe``
    examples to every evaluated epoch: columns ``probe_<arm>``."""
    if not cfg.probe:
        return None
    sel = lookup.select(data, cfg.probe, hash32(cfg.order_seed ^ _PROBE))

    def callback(model, epoch: int) -> dict:
        arms = lookup.probe(model, data, sel, bf16=cfg.bf16)
        return {f"probe_{arm}": v for arm, v in arms.items()}

    return callback


def _without_test(data):
    """The dataset with an empty test split: training never evaluates it (history: NaN)."""
    return dataclasses.replace(data, x_test=data.x_test[:0], y_test=data.y_test[:0])
