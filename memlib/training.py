"""SGD training with turn-over dropout, a per-epoch history, and resumable checkpoints.

Each mini-batch trains the *unmuted* sub-networks of its examples. After every epoch (and once
before the first) the whole training set is evaluated through the full, unmuted and muted
networks, which gives the history's accuracies and, for free, every example's score.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from .checkpoint import load_checkpoint, save_atomic
from .data import Dataset, flip_shift
from .errors import MemlibError
from .scores import autocast, evaluate, memorization_score

_AUGMENT = 0x3F1A6B  # salt of the augmentation stream (one per run and epoch)


@dataclass(frozen=True)
class Schedule:
    """Optimizer settings of one training (``RunConfig.schedule()`` gives a run's; the recipe's
    defaults are RunConfig's). Those with a default here are off unless set."""

    lr: float  # learning rate
    epochs: int  # passes over the training set
    batch_size: int  # examples per step
    momentum: float = 0.0  # SGD momentum
    optimizer: str = "sgd"  # sgd, or adamw (torch's defaults: betas 0.9/0.999, decay 0.01)
    milestones: tuple[int, ...] = ()  # epochs at which the lr is multiplied by gamma
    gamma: float = 0.1  # lr decay factor at each milestone
    bf16: bool = False  # bf16 autocast (AMX or AVX-512 bf16 on a CPU, tensor cores on a GPU)
    augment: bool = False  # random horizontal flips and shifts (data.flip_shift), per step
    eval_every: int = 1  # evaluate (history row, scores, callback) every k epochs and the last


@dataclass
class Trained:
    """What :func:`train` returns.

    history: one dict per epoch (0 = before training); epoch_scores [E + 1, N]: every training
    example's score after every epoch (None for a plain model); train_eval: the final
    per-example evaluation of the training set (``scores.evaluate``'s dict).
    """

    history: list[dict]
    epoch_scores: np.ndarray | None
    train_eval: dict[str, Tensor]


def epoch_order(seed: int, epoch: int, n: int) -> Tensor:
    """The data order of one epoch: a function of (seed, epoch) only, so resuming needs no state."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))


def train(
    model: nn.Module,
    data: Dataset,
    sched: Schedule,
    *,
    order_seed: int,
    train_idx: Tensor | None = None,
    subsets: dict[str, Tensor] | None = None,
    test_subsets: dict[str, Tensor] | None = None,
    checkpoint: Path | None = None,
    progress: bool = True,
    callback: Callable[[nn.Module, int], dict] | None = None,
) -> Trained:
    """Train ``model`` in place on ``data`` (the examples ``train_idx``, default all).

    subsets / test_subsets: named boolean masks [N] / [N_test]; the history records accuracy on
    each. callback(model, epoch), if given, is called after each epoch's evaluation (and before
    the first); the dict it returns joins that epoch's history row. With ``sched.eval_every = k``
    only epochs 0, k, 2k, ... and the last are evaluated (history, scores, callback). A checkpoint
    is written after every epoch; a run finds it and resumes where it stopped.
    """
    device = data.x_train.device
    idx_all = torch.arange(data.n_train, device=device)
    train_idx = idx_all if train_idx is None else idx_all[train_idx.to(device)]
    opt = _optimizer(model, sched)
    lr_at = torch.optim.lr_scheduler.MultiStepLR(opt, list(sched.milestones), sched.gamma)
    log = lambda epoch: _epoch_log(model, data, epoch, opt, sched, subsets, test_subsets)
    history, scores, start = _resume(checkpoint, device, model, opt, lr_at)
    last = None
    if not history:
        row, score, _ = log(0)
        history.append(row | (callback(model, 0) if callback else {}))
        scores += [] if score is None else [score]
    bar = tqdm(range(start, sched.epochs + 1), desc="epochs", disable=not progress,
               initial=start - 1, total=sched.epochs)  # fmt: skip
    for epoch in bar:
        perm = train_idx[epoch_order(order_seed, epoch, len(train_idx)).to(device)]
        _train_epoch(model, data, perm, opt, sched, seed=(order_seed * 100_003 + epoch) ^ _AUGMENT)
        lr_at.step()
        if epoch % sched.eval_every == 0 or epoch == sched.epochs:
            row, score, last = log(epoch)
            history.append(row | (callback(model, epoch) if callback else {}))
            scores += [] if score is None else [score]
            bar.set_postfix(train_acc=f"{row['train_acc']:.3f}", test_acc=f"{row['test_acc']:.3f}")
        if checkpoint is not None:
            state = {"epoch": epoch, "history": history, "scores": scores}
            state |= {"model": model.state_dict(), "optimizer": opt.state_dict()}
            save_atomic(state | {"scheduler": lr_at.state_dict()}, checkpoint)
    if last is None:  # resumed after the last epoch: nothing was evaluated in this call
        last = evaluate(model, data.x_train, data.y_train, idx_all, bf16=sched.bf16)
    return Trained(history, np.stack(scores) if scores else None, last)


def _optimizer(model: nn.Module, sched: Schedule) -> torch.optim.Optimizer:
    if sched.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=sched.lr)
    return torch.optim.SGD(model.parameters(), lr=sched.lr, momentum=sched.momentum)


_STATE = ("epoch", "model", "optimizer", "scheduler", "history", "scores")


def _resume(checkpoint, device, model, opt, lr_at) -> tuple[list[dict], list, int]:
    """The history, scores and first epoch to run: from the checkpoint if there is a whole one
    (its weights and optimizer state then loaded), else from the start."""
    state = load_checkpoint(checkpoint, device, _STATE)
    if state is None:
        return [], [], 1
    try:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        lr_at.load_state_dict(state["scheduler"])
    except (RuntimeError, ValueError, KeyError) as e:  # the model may be half-loaded now
        raise MemlibError(
            f"checkpoint {checkpoint} does not fit this run ({type(e).__name__}); delete it "
            "and rerun to start over"
        ) from None
    return state["history"], state["scores"], state["epoch"] + 1


def _train_epoch(
    model: nn.Module, data: Dataset, perm: Tensor, opt, sched: Schedule, seed: int = 0
) -> None:
    """One pass over the examples ``perm``, in that order: each mini-batch trains its examples'
    unmuted sub-networks (a plain model: the whole network). ``seed``: the epoch's augmentation
    stream, when ``sched.augment``."""
    model.train()
    gen = torch.Generator().manual_seed(seed) if sched.augment else None
    for b in range(0, len(perm), sched.batch_size):
        idx = perm[b : b + sched.batch_size]
        x = data.x_train[idx]
        if gen is not None:
            x = flip_shift(x, gen)
        with autocast(data.x_train.device, sched.bf16):
            logits = model(x, idx, "unmuted")
            loss = F.cross_entropy(logits.float(), data.y_train[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def _epoch_log(model, data, epoch, opt, sched, subsets, test_subsets):
    """One epoch's history row, every training example's score (None for a plain model), and
    the training-set evaluation they were computed from."""
    device = data.x_train.device
    idx = torch.arange(data.n_train, device=device)
    tr = evaluate(model, data.x_train, data.y_train, idx, bf16=sched.bf16)
    row = {
        "epoch": epoch,
        "lr": opt.param_groups[0]["lr"],
        "train_loss": tr["loss_full"].mean().item(),
        "train_acc": _acc(tr["pred_full"], data.y_train),
    }
    score = None
    if "loss_unmuted" in tr:
        row |= {
            f"{m}_{k}": (
                tr[f"loss_{m}"].mean().item()
                if k == "loss"
                else _acc(tr[f"pred_{m}"], data.y_train)
            )
            for m in ("unmuted", "muted")
            for k in ("loss", "acc")
        }
        score = memorization_score(tr["loss_muted"], tr["loss_unmuted"]).cpu().numpy()
    for name, mask in (subsets or {}).items():
        m = mask.to(device)
        row[f"train_acc_{name}"] = _acc(tr["pred_full"][m], data.y_train[m])
        if "pred_unmuted" in tr:
            row[f"unmuted_acc_{name}"] = _acc(tr["pred_unmuted"][m], data.y_train[m])
    if len(data.y_test):
        te = evaluate(model, data.x_test, data.y_test, bf16=sched.bf16)
        row |= {
            "test_loss": te["loss_full"].mean().item(),
            "test_acc": _acc(te["pred_full"], data.y_test),
        }
        for name, mask in (test_subsets or {}).items():
            m = mask.to(device)
            row[f"test_acc_{name}"] = _acc(te["pred_full"][m], data.y_test[m])
    else:
        row |= {"test_loss": float("nan"), "test_acc": float("nan")}
    return row, score, tr


def _acc(pred: Tensor, y: Tensor) -> float:
    return (pred == y).float().mean().item() if len(y) else float("nan")
