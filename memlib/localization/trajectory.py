"""A ResNet-9 trained with label noise, kept whole: a checkpoint per epoch, the gradient
accounting of §4, and every example's mini-batch correctness per epoch.

Gradient accounting (§4.1, §4.2, App. A.2). For each layer l and epoch t the run sums, over the
epoch's mini-batches, the gradient of the *summed* loss of the batch's noisy examples (``g_n``)
and of its clean examples (``g_c``, the batch's total minus ``g_n``). Sums, not means: as in the
paper, the two contributions add up to the epoch's total gradient and are not normalized by the
number of examples. Each norm is divided by √(parameters of the layer). The training step itself
is the usual one (the mean loss's gradient), so tracking does not change the trajectory.

A layer's parameters: its convolution and batch-norm affine weights, or the classifier.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from ..checkpoint import load_checkpoint, save_atomic
from ..config import describe_device, resolve_device
from ..data import load_dataset
from ..masks import hash32
from ..results import Computed, Result, cached
from ..runs import run_data
from ..scores import autocast
from ..training import epoch_order
from . import code_version
from .config import LocalizeConfig
from .resnet import LAYERS, ResNet9, build_resnet9

_INIT, _ORDER = 0x51E7A1, 0x0DE2B3  # salts: this chapter's streams, apart from the Liu runs'
GRAD_STATS = ("grad_clean", "grad_noisy", "grad_total", "grad_cos")


def one_cycle(step: int, steps_per_epoch: int, cfg) -> float:
    """The lr of optimizer step ``step`` (0-based): linear from 0 to ``cfg.lr`` at
    ``cfg.peak_epoch``, then linear to 0 at ``cfg.epochs`` (Smith 2017; the paper's §3)."""
    t = (step + 1) / steps_per_epoch
    return cfg.lr * float(np.interp(t, [0, cfg.peak_epoch, cfg.epochs], [0, 1, 0]))


def load_data(cfg: LocalizeConfig, device: torch.device | None = None):
    """The run's dataset (``runs.run_data``), with ``noise`` of its labels redrawn."""
    n = cfg.n_train or len(load_dataset(cfg.dataset).y_train)
    return run_data(cfg.data_config(n), device)


def new_model(cfg: LocalizeConfig, data) -> ResNet9:
    """The run's ResNet-9 at initialization, on the data's device."""
    model = build_resnet9(data.input_shape, data.n_classes, cfg.width, hash32(cfg.init_seed ^ _INIT))
    fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
    return model.to(data.x_train.device, memory_format=fmt)


def layer_params(model: ResNet9) -> dict[str, list[nn.Parameter]]:
    """Each of the nine layers' parameters, by name."""
    return {name: list(m.parameters()) for name, m in model.layers().items()}


@dataclass
class Trajectory:
    """A cached ResNet-9 run. ``history``: one row per epoch (lr, mini-batch accuracy of clean
    and noisy examples, and at the last row the eval-mode accuracies); ``arrays``: ``corrupted``
    [N], ``label`` [N], ``true_label`` [N], ``correct`` [E, N] (each example's mini-batch
    prediction was its label), ``final_pred`` [N], and the gradient statistics [E, 9]."""

    config: LocalizeConfig
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

    def grad_table(self) -> pd.DataFrame:
        """The gradient accounting, one row per (epoch, layer)."""
        e, n_layers = self.arrays["grad_cos"].shape
        out = pd.DataFrame(
            {"epoch": np.repeat(np.arange(1, e + 1), n_layers), "layer": LAYERS * e}
        )
        for k in GRAD_STATS:
            out[k] = self.arrays[k].reshape(-1)
        return out

    def state(self, epoch: int) -> dict[str, Tensor]:
        """The weights and buffers after ``epoch`` (0: at initialization), on the CPU."""
        return torch.load(self.result.path / "epochs" / f"{epoch}.pt", map_location="cpu")

    def model(self, data, epoch: int | None = None) -> ResNet9:
        """The model after ``epoch`` (default the last), on the data's device, in eval mode."""
        model = new_model(self.config, data)
        model.load_state_dict(self.state(self.config.epochs if epoch is None else epoch))
        return model.eval()

    def provenance(self) -> str:
        return self.result.provenance()


def trajectory(cfg: LocalizeConfig, *, profile: str = "", progress: bool = True) -> Trajectory:
    """Train ``cfg``'s ResNet-9 (or load it from the cache), keeping every epoch."""
    device = resolve_device(cfg.device)

    def compute(folder: Path) -> Computed:
        data = load_data(cfg, device)
        hist, arrays = _train(cfg, data, folder, progress)
        arrays |= {
            "corrupted": data.corrupted.cpu().numpy(),
            "label": data.y_train.cpu().numpy(),
            "true_label": data.true_y_train.cpu().numpy(),
        }
        return Computed(pd.DataFrame(hist), arrays, {"source": data.source})

    meta = {"profile": profile, "device": describe_device(device)}
    key = cfg.key() | {"code": code_version()}
    return Trajectory(cfg, cached("trajectory", key, compute, meta=meta))


def _train(cfg: LocalizeConfig, data, folder: Path, progress: bool):
    model = new_model(cfg, data)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                          weight_decay=cfg.weight_decay)  # fmt: skip
    snaps = folder / "epochs"
    snaps.mkdir(exist_ok=True)
    keys = ("epoch", "model", "optimizer", "history", "stats", "correct")
    state = load_checkpoint(folder / "checkpoint.pt", data.x_train.device, keys)
    if state is None:
        torch.save(_cpu(model.state_dict()), snaps / "0.pt")
        state = {"epoch": 0, "history": [], "stats": {k: [] for k in GRAD_STATS}, "correct": []}
    else:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
    order_seed = hash32(cfg.order_seed ^ _ORDER)
    steps = math.ceil(data.n_train / cfg.batch_size)
    bar = tqdm(range(state["epoch"] + 1, cfg.epochs + 1), desc="epochs", disable=not progress,
               initial=state["epoch"], total=cfg.epochs)  # fmt: skip
    for epoch in bar:
        perm = epoch_order(order_seed, epoch, data.n_train).to(data.x_train.device)
        row, stats, correct = _epoch(model, data, perm, opt, cfg, (epoch - 1) * steps, steps)
        state["history"].append({"epoch": epoch} | row)
        for k in GRAD_STATS:
            state["stats"][k].append(stats[k])
        state["correct"].append(correct)
        torch.save(_cpu(model.state_dict()), snaps / f"{epoch}.pt")
        state |= {"epoch": epoch, "model": model.state_dict(), "optimizer": opt.state_dict()}
        save_atomic(state, folder / "checkpoint.pt")
        bar.set_postfix(clean=f"{row['batch_acc_clean']:.2f}", noisy=f"{row['batch_acc_noisy']:.2f}")
    state["history"][-1] |= final_accuracies(model, data, cfg.bf16)
    arrays = {k: np.stack(v) for k, v in state["stats"].items()}
    arrays["correct"] = np.stack(state["correct"])
    arrays["final_pred"] = predict(model, data.x_train, cfg.bf16).cpu().numpy()
    return state["history"], arrays


def _epoch(model, data, perm, opt, cfg, step0: int, steps: int):
    """One epoch: the usual SGD steps, with the noisy part of each batch's gradient summed
    apart. Returns the history row, the gradient statistics [9] each, and correct [N]."""
    model.train()
    params = layer_params(model)
    flat = [p for ps in params.values() for p in ps]
    total = {k: torch.zeros(sum(p.numel() for p in ps), device=perm.device) for k, ps in params.items()}
    noisy_sum = {k: torch.zeros_like(v) for k, v in total.items()}
    correct = torch.zeros(data.n_train, dtype=torch.bool, device=perm.device)
    for i, b in enumerate(range(0, len(perm), cfg.batch_size)):
        idx = perm[b : b + cfg.batch_size]
        for g in opt.param_groups:
            g["lr"] = one_cycle(step0 + i, steps, cfg)
        with autocast(data.x_train.device, cfg.bf16):
            logits = model(data.x_train[idx]).float()
        y = data.y_train[idx]
        losses = F.cross_entropy(logits, y, reduction="none")
        noisy = data.corrupted[idx]
        opt.zero_grad(set_to_none=True)
        g_n = None
        if noisy.any():
            g_n = torch.autograd.grad(losses[noisy].sum(), flat, retain_graph=True)
        losses.mean().backward()
        j = 0
        for k, ps in params.items():
            total[k] += len(idx) * torch.cat([p.grad.reshape(-1) for p in ps])
            if g_n is not None:
                noisy_sum[k] += torch.cat([g.reshape(-1) for g in g_n[j : j + len(ps)]])
            j += len(ps)
        opt.step()
        correct[idx] = logits.argmax(1) == y
    stats = {k: np.zeros(len(params)) for k in GRAD_STATS}
    for i, k in enumerate(params):
        n, c = noisy_sum[k], total[k] - noisy_sum[k]
        root = math.sqrt(len(n))
        stats["grad_clean"][i] = (c.norm() / root).item()
        stats["grad_noisy"][i] = (n.norm() / root).item()
        stats["grad_total"][i] = (total[k].norm() / root).item()
        stats["grad_cos"][i] = F.cosine_similarity(c, n, dim=0).item()
    row = {
        "lr": opt.param_groups[0]["lr"],
        "batch_acc_clean": correct[~data.corrupted].float().mean().item(),
        "batch_acc_noisy": correct[data.corrupted].float().mean().item(),
    }
    return row, stats, correct.cpu().numpy()


@torch.no_grad()
def predict(model: nn.Module, x: Tensor, bf16: bool, batch: int = 1024) -> Tensor:
    """Eval-mode predictions [N] of ``x``; the model is left in eval mode."""
    model.eval()
    out = []
    for b in range(0, len(x), batch):
        with autocast(x.device, bf16):
            out.append(model(x[b : b + batch]).float().argmax(1))
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long, device=x.device)


def accuracies(model, data, bf16: bool, train_idx: Tensor | None = None,
               test_idx: Tensor | None = None) -> dict[str, float]:  # fmt: skip
    """Eval-mode accuracy on the clean and noisy training examples (against the labels trained
    on; only ``train_idx`` if given) and on the test set (only ``test_idx`` if given)."""
    dev = data.x_train.device
    idx = torch.arange(data.n_train, device=dev) if train_idx is None else train_idx.to(dev)
    right = predict(model, data.x_train[idx], bf16) == data.y_train[idx]
    noisy = data.corrupted[idx]
    tidx = torch.arange(len(data.y_test), device=dev) if test_idx is None else test_idx.to(dev)
    test = predict(model, data.x_test[tidx], bf16) == data.y_test[tidx]
    mean = lambda t: t.float().mean().item() if len(t) else float("nan")
    return {"clean_acc": mean(right[~noisy]), "noisy_acc": mean(right[noisy]),
            "test_acc": mean(test)}  # fmt: skip


def final_accuracies(model, data, bf16: bool) -> dict[str, float]:
    """The trained model's eval-mode accuracies (``accuracies``) on every example."""
    return accuracies(model, data, bf16)


def _cpu(state: dict) -> dict:
    return {k: v.detach().to("cpu", copy=True) for k, v in state.items()}
