"""Many MLPs of one shape trained at once: stacked weights, one batched product per layer.

Figures 1, 5 and 6 train hundreds of small MLPs (100 random initializations and data orders per
condition; a grid of widths, noise levels and dataset sizes). Member ``m`` of a stack has its
own initialization (``init_seeds[m]``, PyTorch's default, as :func:`.nets.build` gives one
``MLP``), its own data order (:func:`memlib.training.epoch_order` of ``order_seeds[m]``) and
its own training set: ``xs[data_of[m]]``, one of K variants of the data (real, randX, randY, …)
of equal size. The loss is the sum over members of each member's mean cross-entropy, so autograd
gives every member exactly its own gradient, and SGD (momentum included) acts on each member's
slice of the stacked tensors as it would on that member alone: ``tests/test_arpit.py`` checks
the stack against one-by-one training with :func:`.train.fit`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn import functional as F
from tqdm.auto import tqdm

from ..errors import MemlibError
from ..training import epoch_order
from .nets import build
from .train import Recipe

Stack = list[tuple[Tensor, Tensor]]  # per layer: weights [M, out, in], biases [M, out]


def init_stack(n_in: int, widths: tuple[int, ...], n_classes: int, init_seeds: list[int],
               device="cpu") -> Stack:  # fmt: skip
    """The stacked initial weights of ``len(init_seeds)`` MLPs ``n_in → widths → n_classes``."""
    mlps = [build("mlp", (n_in,), n_classes, init_seed=s, widths=tuple(widths)) for s in init_seeds]
    layers = lambda m: [*m.hidden, m.out]
    stack = lambda ts: torch.stack([t.detach() for t in ts]).to(device)
    return [
        (
            stack(ls[i].weight for ls in map(layers, mlps)),
            stack(ls[i].bias for ls in map(layers, mlps)),
        )
        for i in range(len(widths) + 1)
    ]


def forward(params: Stack, x: Tensor) -> Tensor:
    """Logits [M, B, C] of every member for its own inputs ``x`` [M, B, D]."""
    h = x
    for i, (w, b) in enumerate(params):
        h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
        if i < len(params) - 1:
            h = h.relu()
    return h


def fit_stack(
    params: Stack,
    xs: Tensor,
    ys: Tensor,
    data_of: Tensor,
    recipe: Recipe,
    order_seeds: list[int],
    *,
    on_epoch: Callable[[int, Stack], None] | None = None,
    progress: bool = False,
) -> None:
    """Train the stack in place with SGD. xs [K, N, ...], ys [K, N]: K variants of a training
    set; member ``m`` trains on variant ``data_of[m]`` ([M] int64). ``on_epoch(epoch, params)``
    is called after every epoch (and at 0, before training)."""
    m, (k, n) = len(order_seeds), ys.shape
    if len(data_of) != m or params[0][0].shape[0] != m or int(data_of.max()) >= k:
        raise MemlibError(f"{m} members need {m} order seeds, weights and data_of entries < {k}")
    xs, data_of = xs.flatten(2), data_of.to(xs.device).unsqueeze(1)
    flat = [t.requires_grad_(True) for layer in params for t in layer]
    opt = torch.optim.SGD(flat, lr=recipe.lr, momentum=recipe.momentum)
    if on_epoch is not None:
        on_epoch(0, params)
    for epoch in tqdm(range(1, recipe.epochs + 1), disable=not progress, desc="epochs"):
        for group in opt.param_groups:
            group["lr"] = recipe.lr_at(epoch)
        order = torch.stack([epoch_order(s, epoch, n) for s in order_seeds]).to(xs.device)
        for b in range(0, n, recipe.batch_size):
            idx = order[:, b : b + recipe.batch_size]  # [M, B]
            logits = forward(params, xs[data_of, idx])  # [M, B, C]
            loss = F.cross_entropy(logits.transpose(1, 2), ys[data_of, idx], reduction="none")
            opt.zero_grad(set_to_none=True)
            loss.mean(1).sum().backward()
            opt.step()
        if on_epoch is not None:
            with torch.no_grad():
                on_epoch(epoch, params)
    for t in flat:
        t.requires_grad_(False)


@torch.no_grad()
def predict(
    params: Stack, x: Tensor, *, per_member: bool = False, batch_size: int = 4096
) -> Tensor:
    """Every member's predicted class: [M, N] int64. ``x`` [N, ...]: the same inputs for every
    member; with ``per_member``, [M, N, ...]: each member its own."""
    m = params[0][0].shape[0]
    x = x.flatten(2) if per_member else x.flatten(1)
    shared = not per_member
    out = []
    for b in range(0, x.shape[-2], batch_size):
        xb = x[b : b + batch_size] if shared else x[:, b : b + batch_size]
        out.append(forward(params, xb.expand(m, *xb.shape) if shared else xb).argmax(2))
    return torch.cat(out, 1) if out else torch.zeros(m, 0, dtype=torch.long, device=x.device)
