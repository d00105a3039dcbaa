"""Memorization scores by turn-over dropout (Liu et al. 2021, Eq. 6).

    score(z) = L(f_muted, z) - L(f_unmuted, z)

``f_unmuted`` is the sub-network that z trained, ``f_muted`` the one that never saw z; L is the
cross-entropy against the label trained on (the corrupted one, for corrupted examples).
"""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .data import Dataset

COLUMNS = [
    "index",
    "label",
    "corrupted",
    "true_label",
    "score",
    "loss_unmuted",
    "loss_muted",
    "pred_unmuted",
    "pred_muted",
]


def memorization_score(loss_muted: Tensor, loss_unmuted: Tensor) -> Tensor:
    """Eq. 6: self-influence estimate, [N] from two per-example losses [N]."""
    return loss_muted - loss_unmuted


def autocast(device: torch.device, bf16: bool):
    if not bf16:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    idx: Tensor | None = None,
    *,
    batch_size: int | None = None,
    bf16: bool = False,
) -> dict[str, Tensor]:
    """Per-example cross-entropy and prediction [N] of the full network, and with ``idx`` [N]
    (the examples' training indices) of the unmuted and muted sub-networks too.

    Keys: loss_full, pred_full (+ loss_unmuted, pred_unmuted, loss_muted, pred_muted).
    """
    batch_size = batch_size or getattr(model, "eval_batch_size", 4096)
    was_training = model.training
    model.eval()
    turnover = getattr(model, "turnover", False)
    modes = ("full", "unmuted", "muted") if idx is not None and turnover else ("full",)
    out: dict[str, list[Tensor]] = {f"{k}_{m}": [] for m in modes for k in ("loss", "pred")}
    for b in range(0, len(x), batch_size):
        xb, yb = x[b : b + batch_size], y[b : b + batch_size]
        with autocast(x.device, bf16):
            h = model.trunk(xb)
            if len(modes) == 1:
                logits = (model.tail(h),)
            elif hasattr(model, "tail_all"):
                logits = model.tail_all(h, idx[b : b + batch_size])
            else:
                i = idx[b : b + batch_size]
                logits = (model.tail(h), model.tail(h, i, "unmuted"), model.tail(h, i, "muted"))
        for m, z in zip(modes, logits, strict=True):
            z = z.float()
            out[f"loss_{m}"].append(F.cross_entropy(z, yb, reduction="none"))
            out[f"pred_{m}"].append(z.argmax(1))
    model.train(was_training)
    return {k: torch.cat(v) if v else torch.zeros(0) for k, v in out.items()}


def score_table(data: Dataset, ev: dict[str, Tensor]) -> pd.DataFrame:
    """One row per training example, columns ``COLUMNS`` (the ``memlib score`` CSV)."""
    score = memorization_score(ev["loss_muted"], ev["loss_unmuted"])
    cols = {
        "index": np.arange(data.n_train),
        "label": data.y_train,
        "corrupted": data.corrupted,
        "true_label": data.true_y_train,
        "score": score,
        "loss_unmuted": ev["loss_unmuted"],
        "loss_muted": ev["loss_muted"],
        "pred_unmuted": ev["pred_unmuted"],
        "pred_muted": ev["pred_muted"],
    }
    return pd.DataFrame(
        {k: v.cpu().numpy() if isinstance(v, Tensor) else v for k, v in cols.items()}
    )[COLUMNS]
