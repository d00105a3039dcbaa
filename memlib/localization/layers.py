"""Layer rewinding (§5.1) and layer retraining (§5.2) of a trained ResNet-9.

Rewinding layer l to epoch t copies layer l's weights *and* its batch-norm running statistics
from the checkpoint of epoch t into the final model: the statistics describe the activations the
layer's weights were trained with, so the rewound layer is the one the network had at epoch t.
(``stats=False`` keeps the final statistics, as the paper's public code does.)

Retraining layer l resets it to its initialization (weights and statistics), freezes every other
parameter (``requires_grad=False``, so the optimizer never sees them) and trains on the clean
examples only, with a one-cycle schedule. Batch-norm running statistics of every layer update,
as in the paper.
"""

from __future__ import annotations

import dataclasses
import math

import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

from ..scores import autocast
from .resnet import LAYERS, ResNet9
from .trajectory import accuracies, one_cycle


def layer_keys(state: dict[str, Tensor], layer: str) -> list[str]:
    """The state-dict entries of ``layer``: weights, batch-norm affine and running statistics
    (the ``keep`` masks are not weights and stay)."""
    return [k for k in state if k.startswith(layer + ".") and not k.endswith("keep")]


def rewound(final: dict, earlier: dict, layer: str, stats: bool = True) -> dict:
    """The final state with ``layer`` taken from ``earlier`` (``stats``: its batch-norm running
    statistics too)."""
    out = dict(final)
    for k in layer_keys(final, layer):
        if stats or not (".running_" in k or k.endswith("num_batches_tracked")):
            out[k] = earlier[k]
    return out


def rewind_grid(traj, data, epochs, eval_idx: Tensor, test_idx: Tensor, *, stats: bool = True,
                progress: bool = True) -> pd.DataFrame:  # fmt: skip
    """Accuracies (clean, noisy, test) after rewinding each layer to each of ``epochs``; one row
    per (layer, epoch). Evaluated on the training examples ``eval_idx`` and test ``test_idx``."""
    model = traj.model(data)
    final = traj.state(traj.config.epochs)
    rows = []
    for t in tqdm(epochs, desc="rewind", disable=not progress):
        earlier = traj.state(t)
        for layer in LAYERS:
            model.load_state_dict(rewound(final, earlier, layer, stats))
            acc = accuracies(model, data, traj.config.bf16, eval_idx, test_idx)
            rows.append({"layer": layer, "epoch": t} | acc)
    model.load_state_dict(final)
    return pd.DataFrame(rows)


def freeze_all_but(model: ResNet9, layer: str) -> list[torch.nn.Parameter]:
    """Make ``layer``'s parameters the only trainable ones; returns them."""
    for p in model.parameters():
        p.requires_grad_(False)
    params = list(model.layers()[layer].parameters())
    for p in params:
        p.requires_grad_(True)
    return params


@dataclasses.dataclass(frozen=True)
class Retraining:
    """The retraining recipe (§5.2: 20 epochs, one-cycle peaking at lr 0.1 at epoch 10)."""

    epochs: int = 20
    peak_epoch: int = 10
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 512
    bf16: bool = False


def retrain_layer(traj, data, layer: str, r: Retraining, eval_idx: Tensor, test_idx: Tensor,
                  *, order_seed: int) -> pd.DataFrame:  # fmt: skip
    """Reset ``layer`` of the final model to its initialization, freeze the rest, train on the
    clean examples; accuracies after every epoch (epoch 0: right after the reset)."""
    model = traj.model(data)
    model.load_state_dict(rewound(traj.state(traj.config.epochs), traj.state(0), layer))
    params = freeze_all_but(model, layer)
    opt = torch.optim.SGD(params, lr=r.lr, momentum=r.momentum, weight_decay=r.weight_decay)
    clean = torch.nonzero(~data.corrupted).flatten()
    steps = math.ceil(len(clean) / r.batch_size)
    rows = [{"epoch": 0} | accuracies(model, data, r.bf16, eval_idx, test_idx)]
    for epoch in range(1, r.epochs + 1):
        g = torch.Generator().manual_seed(order_seed * 1_000 + epoch)
        perm = clean[torch.randperm(len(clean), generator=g).to(clean.device)]
        model.train()
        for i, b in enumerate(range(0, len(perm), r.batch_size)):
            idx = perm[b : b + r.batch_size]
            for group in opt.param_groups:
                group["lr"] = one_cycle((epoch - 1) * steps + i, steps, r)
            with autocast(data.x_train.device, r.bf16):
                loss = F.cross_entropy(model(data.x_train[idx]).float(), data.y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        rows.append({"epoch": epoch} | accuracies(model, data, r.bf16, eval_idx, test_idx))
    return pd.DataFrame(rows).assign(layer=layer)
