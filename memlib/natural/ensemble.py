"""Many models of one family trained at once: their weights stacked, one batched product per
layer.

``M`` members of a family (:mod:`.nets`) keep their weights as [M, *shape] tensors. A linear layer
is one ``baddbmm`` over the members; a convolution is one grouped convolution whose groups are the
members (their channels side by side, channels-last); on inputs every member shares (evaluation),
the first convolution is one plain convolution with all members' filters. Member ``m`` trains on
its own examples (a boolean mask over the training set), in its own order, from its own
initialization (``nets.build`` under its seed), with SGD, momentum and weight decay on its mean
cross-entropy. The loss summed over members has, for each member's weights, that member's
gradient, and SGD's update is elementwise: one optimizer over the stacked weights is ``M``
independent optimizers. ``tests/test_natural.py`` checks the weights against ``M`` models trained
one by one; ``benchmarks/bench_natural.py`` times both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..training import epoch_order
from . import nets


@dataclass(frozen=True)
class Recipe:
    """SGD with momentum and weight decay, and a triangular learning rate: linear from 0 to
    ``lr`` over the first ``peak`` of the steps, then linear to 0 at the end (Feldman and Zhang's
    schedule, which the paper follows)."""

    epochs: int
    lr: float
    batch_size: int
    momentum: float = 0.9
    weight_decay: float = 5e-4
    peak: float = 0.2  # share of the steps at which the learning rate peaks

    def lr_at(self, step: int, total: int) -> float:
        """The learning rate of step ``step`` (0-based) of ``total``."""
        top = max(1.0, self.peak * total)
        t = (step + 1) / top if step + 1 <= top else (total - step) / max(1.0, total - top)
        return self.lr * max(t, 0.0)


def members(family: str, width: int, in_shape, n_classes: int, seeds: list[int]) -> list[nn.Module]:
    """One ``nets.build`` module per seed, each built under ``torch.manual_seed(seed)`` (the
    global generator is restored afterwards)."""
    mods = []
    for s in seeds:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(s)
            mods.append(nets.build(family, width, in_shape, n_classes))
    return mods


class Stacked(nn.Module):
    """``M`` members of one family, stacked: ``forward(x)`` maps [M, B, ...] (member m's own
    inputs) or, with ``shared``, [B, ...] (the same inputs for all) to logits [M, B, C]."""

    def __init__(self, modules: list[nn.Module]):
        super().__init__()
        self.size = len(modules)
        layers = [m for m in modules[0] if isinstance(m, nn.Linear | nn.Conv2d)]
        self.kinds = ["conv" if isinstance(m, nn.Conv2d) else "linear" for m in layers]
        stack = lambda i, attr: nn.Parameter(torch.stack([
            getattr([m for m in mod if isinstance(m, nn.Linear | nn.Conv2d)][i], attr).detach()
            for mod in modules]))  # fmt: skip
        self.weights = nn.ParameterList([stack(i, "weight") for i in range(len(layers))])
        self.biases = nn.ParameterList([stack(i, "bias") for i in range(len(layers))])

    def forward(self, x: Tensor, shared: bool = False) -> Tensor:
        m = self.size
        if self.kinds[0] == "linear":
            h = x.flatten(1 if shared else 2)
            h = h.expand(m, *h.shape) if shared else h
        else:
            h = self._convs(x, shared)  # [M, B, F]
        for w, b, kind in zip(self.weights, self.biases, self.kinds, strict=True):
            if kind == "conv":
                continue
            h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
            if w is not self.weights[-1]:
                h = h.relu()
        return h

    def _convs(self, x: Tensor, shared: bool) -> Tensor:
        """The convolutional layers (3×3, stride 2, ReLU each), flattened per member."""
        m = self.size
        convs = [(w, b) for w, b, k in zip(self.weights, self.biases, self.kinds, strict=True)
                 if k == "conv"]  # fmt: skip
        w, b = convs[0]
        if shared:  # [B, C, H, W]: one convolution with every member's filters
            h = F.conv2d(x, w.flatten(0, 1), b.flatten(), stride=2, padding=1)
            h = h.contiguous(memory_format=torch.channels_last)
        else:  # [M, B, C, H, W] -> [B, M*C, H, W]: the members as groups
            h = x.transpose(0, 1).flatten(1, 2).contiguous(memory_format=torch.channels_last)
            h = F.conv2d(h, w.flatten(0, 1), b.flatten(), stride=2, padding=1, groups=m)
        h = h.relu()
        for w, b in convs[1:]:
            h = F.conv2d(h, w.flatten(0, 1), b.flatten(), stride=2, padding=1, groups=m).relu()
        bsz = h.shape[0]
        # [B, M*C, h, w] -> [M, B, C*h*w], in the order nn.Flatten gives one member's [C, h, w]
        return h.reshape(bsz, m, -1).transpose(0, 1)

    @torch.no_grad()
    def predict(self, x: Tensor, batch_size: int = 0) -> Tensor:
        """Every member's predicted class for every example of ``x`` [N, ...]: [M, N] int64, in
        batches of ``batch_size`` examples (0: about 2**12 member-examples at a time)."""
        bs = batch_size or max(1, 2**12 // self.size)
        out = [self(x[b : b + bs], shared=True).argmax(2) for b in range(0, len(x), bs)]
        return torch.cat(out, 1) if out else torch.zeros(self.size, 0, dtype=torch.long)


def train(
    net: Stacked,
    x: Tensor,
    y: Tensor,
    owned: Tensor,
    order_seeds: list[int],
    recipe: Recipe,
    *,
    start_epoch: int = 1,
    momenta: list[Tensor] | None = None,
    on_epoch: Callable | None = None,
) -> list[Tensor]:
    """Train ``net`` in place and return SGD's momentum buffers (one per parameter).

    x [N, ...], y [N]: the training set on the net's device; owned [M, n]: the indices of
    member m's examples (every member has n); epoch ``e`` visits them in
    ``training.epoch_order(order_seeds[m], e, n)`` order. ``start_epoch`` and ``momenta`` resume
    a run; ``on_epoch(epoch, momenta)`` is called after every epoch (to record, to checkpoint)."""
    n = owned.shape[1]
    steps = -(-n // recipe.batch_size)
    params = list(net.parameters())
    opt = torch.optim.SGD(params, lr=recipe.lr, momentum=recipe.momentum,
                          weight_decay=recipe.weight_decay)  # fmt: skip
    for p, buf in zip(params, momenta or [], strict=False):
        opt.state[p]["momentum_buffer"] = buf.clone()
    bufs = list(momenta or [])
    for epoch in range(start_epoch, recipe.epochs + 1):
        perm = torch.stack([epoch_order(s, epoch, n) for s in order_seeds]).to(x.device)
        order = torch.gather(owned, 1, perm)
        for i, b in enumerate(range(0, n, recipe.batch_size)):
            idx = order[:, b : b + recipe.batch_size]  # [M, B]
            opt.param_groups[0]["lr"] = recipe.lr_at((epoch - 1) * steps + i, recipe.epochs * steps)
            logits = net(x[idx])  # [M, B, C]
            loss = F.cross_entropy(logits.flatten(0, 1), y[idx].flatten(), reduction="sum")
            opt.zero_grad(set_to_none=True)
            (loss / idx.shape[1]).backward()  # the sum over members of each one's batch mean
            opt.step()
        bufs = [opt.state[p]["momentum_buffer"] for p in params]
        if on_epoch is not None:
            on_epoch(epoch, bufs)
    return bufs
