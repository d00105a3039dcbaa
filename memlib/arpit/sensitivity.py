"""Loss sensitivity (Arpit et al. 2017, §3.2, Figures 3 and 4), by unrolling SGD.

``g_x^t = ‖∂L_t/∂x‖₁`` is the gradient of the loss after ``t`` SGD updates with respect to a
training example ``x`` that earlier updates trained on. SGD is run on a functional MLP with
``create_graph=True`` (Maclaurin et al. 2015), so every parameter vector ``θ_t`` is a
differentiable function of the training inputs; ``∂L_t/∂x`` is one backward pass through the
unrolled steps. Our choices where the paper is silent:

* ``L_t`` is the mean cross-entropy over the whole training set at ``θ_t``, its inputs detached:
  ``∂L_t/∂x`` measures only ``x``'s effect through the updates that trained on it.
* ``L_t(y=i)`` is the part of that mean from the examples labelled ``i`` (their losses summed,
  divided by ``n``), so that ``Σ_i L_t(y=i) = L_t`` and ``∂L_t/∂x = Σ_i ∂L_t(y=i)/∂x``.
* ``ḡ`` averages ``g^t`` over a grid of steps (every ``every`` updates), not over every step:
  the graph is built once and one backward per class is run at each grid point.
* The data order is a stream of epochs, each a permutation of the training set, cut into batches
  of ``batch_size`` (a batch may span two epochs).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torch.nn import functional as F

from .. import results
from ..data import load_dataset
from ..training import epoch_order
from . import cached
from .conditions import Condition, apply
from .nets import build


def downscale(x: Tensor) -> Tensor:
    """Images [N, C, H, W] averaged over 2×2 blocks: [N, C, H/2, W/2] (MNIST: 14×14)."""
    return F.avg_pool2d(x, 2)


def initial_params(n_in: int, widths: tuple[int, ...], n_classes: int, seed: int) -> list[Tensor]:
    """The weights and biases ``[W1, b1, W2, b2, ..., W_out, b_out]`` of the chapter's MLP
    (:func:`.nets.build`, PyTorch's default initialization), as plain tensors."""
    mlp = build("mlp", (n_in,), n_classes, init_seed=seed, widths=tuple(widths))
    layers = [*mlp.hidden, mlp.out]
    return [t.detach().clone() for fc in layers for t in (fc.weight, fc.bias)]


def forward(params: list[Tensor], x: Tensor) -> Tensor:
    """The MLP's logits [N, C] for inputs x [N, D]: ReLU after every layer but the last."""
    h = x
    for k in range(0, len(params) - 2, 2):
        h = F.linear(h, params[k], params[k + 1]).relu()
    return F.linear(h, params[-2], params[-1])


def batch_order(n: int, batch_size: int, n_steps: int, seed: int) -> Tensor:
    """The examples of each SGD step [n_steps, batch_size]: epochs of permutations
    (:func:`memlib.training.epoch_order` of ``seed``), concatenated and cut into batches."""
    n_epochs = -(-n_steps * batch_size // n)
    stream = torch.cat([epoch_order(seed, e, n) for e in range(n_epochs)])
    return stream[: n_steps * batch_size].view(n_steps, batch_size)


def unrolled_sensitivity(
    x: Tensor, y: Tensor, params: list[Tensor], order: Tensor, lr: float, grid: list[int],
    n_classes: int,
) -> dict[str, np.ndarray]:  # fmt: skip
    """Run SGD (``lr``, the batches of ``order`` [T, B]) from ``params`` on x [N, D], y [N],
    keeping the graph, and at each step ``t`` of ``grid`` (1 ≤ t ≤ T, increasing) take the
    gradient of each class's loss ``L_t(y=i)`` with respect to every training input.

    Returns ``per_class`` [G, C, N]: ``‖∂L_t(y=i)/∂x_n‖₁``; ``g`` [G, N]: ``‖∂L_t/∂x_n‖₁``;
    ``loss`` and ``acc`` [G]: the training loss and accuracy at ``θ_t``. Runs on one thread:
    the network is tiny, and more threads only add overhead (20× on a busy 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _unroll(x, y, params, order, lr, grid, n_classes)
    finally:
        torch.set_num_threads(threads)


def _unroll(x, y, params, order, lr, grid, n_classes) -> dict[str, np.ndarray]:
    n, dtype = len(y), x.dtype
    x = x.detach().clone().requires_grad_(True)
    theta = [p.to(dtype).requires_grad_(True) for p in params]  # θ_0: a leaf, its grad unused
    grid_at = {t: k for k, t in enumerate(grid)}
    G = len(grid)
    per_class = np.zeros((G, n_classes, n))
    g = np.zeros((G, n))
    loss_at, acc_at = np.zeros(G), np.zeros(G)
    onehot = F.one_hot(y, n_classes).to(dtype)  # [N, C]
    for t in range(1, grid[-1] + 1):
        b = order[t - 1]
        step_loss = F.cross_entropy(forward(theta, x[b]), y[b])
        grads = torch.autograd.grad(step_loss, theta, create_graph=True)
        theta = [p - lr * d for p, d in zip(theta, grads)]  # noqa: B905 (one grad per tensor)
        if t not in grid_at:
            continue
        k = grid_at[t]
        logits = forward(theta, x.detach())  # L_t's own inputs detached
        losses = F.cross_entropy(logits, y, reduction="none")  # [N]
        by_class = (onehot * losses[:, None]).sum(0) / n  # [C]: L_t(y=i), summing to L_t
        # one backward per class, batched: d [C, N, D] = ∂L_t(y=i)/∂x
        (d,) = torch.autograd.grad(by_class, x, torch.eye(n_classes, dtype=dtype),
                                   retain_graph=True, is_grads_batched=True)  # fmt: skip
        d = d.detach()
        per_class[k] = d.abs().sum(2).numpy()
        total = d.sum(0)
        g[k] = total.abs().sum(1).numpy()
        loss_at[k] = float(losses.detach().mean())
        acc_at[k] = float((logits.argmax(1) == y).double().mean())
    return {"per_class": per_class, "g": g, "loss": loss_at, "acc": acc_at}


def gini(v) -> float:
    """The Gini coefficient of non-negative values v [n]: mean absolute difference over twice
    the mean (0: all equal; (n-1)/n: one nonzero). Sorted form, O(n log n); NaN if all are 0."""
    v = np.sort(np.asarray(v, dtype=np.float64))
    n, s = len(v), v.sum()
    if n == 0 or s <= 0:
        return float("nan")
    i = np.arange(1, n + 1)
    return float(2 * (i * v).sum() / (n * s) - (n + 1) / n)


def running_gini(g: np.ndarray) -> np.ndarray:
    """The Gini coefficient over examples of ``ḡ`` up to each grid point: g [G, N] → [G]."""
    gbar = np.cumsum(g, axis=0) / np.arange(1, len(g) + 1)[:, None]
    return np.array([gini(row) for row in gbar])


def grid_steps(n_steps: int, every: int, start: int) -> list[int]:
    """The steps at which ``g^t`` is taken: ``start`` (one epoch, so that every example has been
    trained on), then every ``every`` updates, the last one included."""
    return sorted({*range(start, n_steps + 1, every), n_steps})


def run(
    cond: Condition, *, seed: int, n_train: int, widths: tuple[int, ...], batch_size: int,
    lr: float, n_steps: int, every: int, dataset: str = "mnist", profile: str = "",
) -> results.Result:  # fmt: skip
    """One unrolled SGD run under ``cond``, cached: ``n_train`` examples of ``dataset``
    (subset, initialization and data order from ``seed``), downscaled 2×2, an MLP of ``widths``.

    History, one row per grid step: step, loss, acc, gini (of ``ḡ`` up to that step). Arrays:
    ``g`` [G, N], ``per_class`` [G, C, N], ``y`` [N] (the labels trained on), ``noisy`` [N]."""
    config = {"dataset": dataset, "n_train": n_train, "seed": seed, "condition": cond.key(),
              "widths": list(widths), "batch_size": batch_size, "lr": lr, "n_steps": n_steps,
              "every": every}  # fmt: skip

    def compute(folder) -> results.Computed:
        t0 = time.time()
        data = load_dataset(dataset, n_train=n_train, subset_seed=seed)
        x = downscale(data.x_train).flatten(1)
        x, y, noisy = apply(x, data.y_train, cond, data.n_classes)
        params = initial_params(x.shape[1], widths, data.n_classes, seed)
        order = batch_order(n_train, batch_size, n_steps, seed)
        grid = grid_steps(n_steps, every, -(-n_train // batch_size))
        out = unrolled_sensitivity(x, y, params, order, lr, grid, data.n_classes)
        hist = pd.DataFrame({"step": grid, "loss": out["loss"], "acc": out["acc"],
                             "gini": running_gini(out["g"])})  # fmt: skip
        arrays = {"g": out["g"].astype(np.float32),
                  "per_class": out["per_class"].astype(np.float32),
                  "y": y.numpy(), "noisy": noisy.numpy()}  # fmt: skip
        return results.Computed(
            hist, arrays, {"source": data.source, "compute_s": round(time.time() - t0, 1)}
        )

    return cached("sensitivity", config, compute, meta={"profile": profile, "device": "cpu"})


def class_matrix(per_class: np.ndarray, y: np.ndarray, n_classes: int) -> np.ndarray:
    """Figure 4's ``ḡ_{i,j}`` [C, C]: the mean over training examples x of class j (column) of
    ``(1/G) Σ_t ‖∂L_t(y=i)/∂x‖₁`` (row i), from per_class [G, C, N] and labels y [N]."""
    avg = per_class.mean(0)  # [C, N]
    return np.stack([avg[:, y == j].mean(1) for j in range(n_classes)], axis=1)
