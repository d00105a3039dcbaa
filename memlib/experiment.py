"""One call from parameters to scores: data, model, training, cache (the notebooks' front door)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .config import RunConfig, resolve_device
from .data import load_dataset
from .masks import hash32
from .models import build_model
from .results import Result, cached
from .scores import COLUMNS, score_table
from .training import Schedule, train

# Salts that turn one user seed into independent streams.
_INIT, _ORDER, _CORRUPT = 0x1A2B3C, 0x4D5E6F, 0x7A8B9C


@dataclass
class ScoreRun:
    """The outcome of :func:`score_run`.

    table: one row per training example (``scores.COLUMNS``); history: one row per epoch
    (0 = before training); epoch_scores [E + 1, N]: every example's score after every epoch.
    """

    config: RunConfig
    result: Result

    @property
    def table(self) -> pd.DataFrame:
        a = self.result.arrays
        return pd.DataFrame({c: a[c] for c in COLUMNS})

    @property
    def history(self) -> pd.DataFrame:
        return self.result.history

    @property
    def epoch_scores(self) -> np.ndarray:
        return self.result.arrays["epoch_scores"]

    @property
    def meta(self) -> dict:
        return self.result.meta

    def provenance(self) -> str:
        return self.result.provenance()


def score_run(cfg: RunConfig, *, profile: str = "", progress: bool = True) -> ScoreRun:
    """Train ``cfg``'s turn-over-dropout model and score every training example (cached)."""
    device = resolve_device(cfg.device)

    def compute(folder):
        data = load_dataset(
            cfg.dataset,
            corrupt=cfg.corrupt,
            corrupt_seed=hash32(cfg.corrupt_seed ^ _CORRUPT),
            n_train=cfg.n_train,
            subset_seed=cfg.subset_seed,
            device=device,
        )
        model = build_model(
            cfg.arch,
            data.input_shape,
            data.n_classes,
            hidden=cfg.hidden,
            turnover=cfg.turnover,
            mask_seed=cfg.mask_seed,
            init_seed=hash32(cfg.init_seed ^ _INIT),
        ).to(device)
        sched = Schedule(
            lr=cfg.lr,
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            momentum=cfg.momentum,
            bf16=cfg.bf16,
        )
        subsets = {"corrupted": data.corrupted, "clean": ~data.corrupted} if cfg.corrupt else {}
        trained = train(
            model,
            data,
            sched,
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


def _describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"
