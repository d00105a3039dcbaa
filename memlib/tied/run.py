"""A ResNet-9 trained with one of the masking schemes of :mod:`.dropout`, cached with every
training example's prediction in each evaluation mode.

The run starts from the same weights and data as the chapter's plain ResNet-9 with the same
seeds (``localization.trajectory``): the same images, the same redrawn labels, the same
initialization. Only the masks differ (and the data order, drawn apart). The recipe is the
chapter's one-cycle SGD. It checkpoints after every epoch and resumes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

from ..checkpoint import load_checkpoint, save_atomic
from ..config import describe_device, resolve_device
from ..localization.config import LocalizeConfig
from ..localization.trajectory import load_data, new_model, one_cycle
from ..masks import hash32
from ..results import Computed, Result, cached
from ..scores import autocast
from ..training import epoch_order
from . import code_version
from .dropout import MODES, DropoutConfig, Dropped

_ORDER = 0x7D0E3  # salt of the data order


def eval_modes(scheme: str) -> tuple[str, ...]:
    """The evaluation modes of a scheme: the tied channels can be dropped; the others have
    their usual evaluation only."""
    return MODES if scheme == "tied" else ("full",)


@dataclass
class TiedRun:
    """A cached run. ``history``: one row per epoch (lr, mean loss, mini-batch accuracy of
    clean and noisy examples). ``arrays``: ``label``, ``true_label``, ``corrupted`` [N],
    ``test_label`` [T], and ``pred_<mode>`` [N] and ``test_pred_<mode>`` [T] for every
    evaluation mode (``own`` for training examples only)."""

    config: LocalizeConfig
    dropout: DropoutConfig
    result: Result

    @property
    def history(self) -> pd.DataFrame:
        return self.result.history

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        return self.result.arrays

    @property
    def corrupted(self) -> np.ndarray:
        return self.arrays["corrupted"].astype(bool)

    def table(self) -> pd.DataFrame:
        """One row per training example: index, label, corrupted, true_label, and for each mode
        the prediction and whether it is the label trained on."""
        a = self.arrays
        out = pd.DataFrame({"index": np.arange(len(a["label"])), "label": a["label"],
                            "corrupted": self.corrupted,
                            "true_label": a["true_label"]})  # fmt: skip
        for mode in eval_modes(self.dropout.scheme):
            out[f"pred_{mode}"] = a[f"pred_{mode}"]
            out[f"correct_{mode}"] = a[f"pred_{mode}"] == a["label"]
        return out

    def accuracies(self) -> dict[str, float]:
        """``<group>_<mode>`` -> accuracy, for the groups clean, noisy (against the labels
        trained on) and test."""
        a, noisy = self.arrays, self.corrupted
        mean = lambda right: float(right.mean()) if len(right) else float("nan")
        out = {}
        for mode in eval_modes(self.dropout.scheme):
            right = a[f"pred_{mode}"] == a["label"]
            out[f"clean_{mode}"], out[f"noisy_{mode}"] = mean(right[~noisy]), mean(right[noisy])
            if mode != "own":
                out[f"test_{mode}"] = mean(a[f"test_pred_{mode}"] == a["test_label"])
        return out

    def model(self, data) -> Dropped:
        """The trained model on the data's device, in eval mode."""
        model = Dropped(new_model(self.config, data), self.dropout)
        model.load_state_dict(torch.load(self.result.path / "model.pt", map_location="cpu"))
        return model.eval()

    def provenance(self) -> str:
        return self.result.provenance()


def tied_run(cfg: LocalizeConfig, dcfg: DropoutConfig, *, profile: str = "",
             progress: bool = True) -> TiedRun:  # fmt: skip
    """Train ``cfg``'s ResNet-9 with the masks of ``dcfg`` (or load it from the cache)."""
    device = resolve_device(cfg.device)

    def compute(folder: Path) -> Computed:
        data = load_data(cfg, device)
        model = Dropped(new_model(cfg, data), dcfg)
        history = _train(model, cfg, data, folder, progress)
        torch.save({k: v.cpu() for k, v in model.state_dict().items()}, folder / "model.pt")
        arrays = {"label": data.y_train, "true_label": data.true_y_train,
                  "corrupted": data.corrupted, "test_label": data.y_test}  # fmt: skip
        train_idx = torch.arange(data.n_train, device=device)
        for mode in eval_modes(dcfg.scheme):
            arrays[f"pred_{mode}"] = predict(model, data.x_train, cfg.bf16, mode, train_idx)
            if mode != "own":
                arrays[f"test_pred_{mode}"] = predict(model, data.x_test, cfg.bf16, mode)
        arrays = {k: v.cpu().numpy() for k, v in arrays.items()}
        return Computed(pd.DataFrame(history), arrays, {"source": data.source})

    meta = {"profile": profile, "device": describe_device(device)}
    key = cfg.key() | {"dropout": dcfg.key(), "code": code_version()}
    if cfg.dataset.startswith("npz:"):  # a user's file: its content, not just its name
        key["npz_sha256"] = cfg.data_config().key()["npz_sha256"]
    return TiedRun(cfg, dcfg, cached("tied", key, compute, meta=meta))


def _train(model: Dropped, cfg: LocalizeConfig, data, folder: Path, progress: bool) -> list:
    """One-cycle SGD, every example through its own masks; a checkpoint after every epoch."""
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                          weight_decay=cfg.weight_decay)  # fmt: skip
    state = load_checkpoint(folder / "checkpoint.pt", data.x_train.device,
                            ("epoch", "model", "optimizer", "history"))  # fmt: skip
    if state is None:
        state = {"epoch": 0, "history": []}
    else:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
    order_seed = hash32(cfg.order_seed ^ _ORDER)
    steps = math.ceil(data.n_train / cfg.batch_size)
    bar = tqdm(range(state["epoch"] + 1, cfg.epochs + 1), desc="epochs", disable=not progress,
               initial=state["epoch"], total=cfg.epochs)  # fmt: skip
    for epoch in bar:
        perm = epoch_order(order_seed, epoch, data.n_train).to(data.x_train.device)
        correct = torch.zeros(data.n_train, dtype=torch.bool, device=perm.device)
        loss_sum = 0.0
        model.train()
        for i, b in enumerate(range(0, data.n_train, cfg.batch_size)):
            idx, step = perm[b : b + cfg.batch_size], (epoch - 1) * steps + i
            for g in opt.param_groups:
                g["lr"] = one_cycle(step, steps, cfg)
            with autocast(data.x_train.device, cfg.bf16):
                logits = model(data.x_train[idx], idx, "own", step).float()
            loss = F.cross_entropy(logits, data.y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            correct[idx] = logits.argmax(1) == data.y_train[idx]
            loss_sum += loss.item() * len(idx)
        row = {"epoch": epoch, "lr": opt.param_groups[0]["lr"], "loss": loss_sum / data.n_train,
               "batch_acc_clean": correct[~data.corrupted].float().mean().item(),
               "batch_acc_noisy": correct[data.corrupted].float().mean().item()}  # fmt: skip
        state["history"].append(row)
        state |= {"epoch": epoch, "model": model.state_dict(), "optimizer": opt.state_dict()}
        save_atomic(state, folder / "checkpoint.pt")
        bar.set_postfix(
            clean=f"{row['batch_acc_clean']:.2f}", noisy=f"{row['batch_acc_noisy']:.2f}"
        )
    return state["history"]


@torch.no_grad()
def predict(model: Dropped, x: Tensor, bf16: bool, mode: str = "full",
            idx: Tensor | None = None, batch: int = 1024) -> Tensor:  # fmt: skip
    """Eval-mode predictions [N] of ``x`` in ``mode`` (``idx``: the rows' training indices, for
    ``own``); the model is left in eval mode."""
    model.eval()
    out = []
    for b in range(0, len(x), batch):
        rows = None if idx is None else idx[b : b + batch]
        with autocast(x.device, bf16):
            out.append(model(x[b : b + batch], rows, mode).float().argmax(1))
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long, device=x.device)
