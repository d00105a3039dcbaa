"""Many small MLPs trained at once: one batched matrix multiply per layer for the whole ensemble.

An ensemble of ``M`` one-hidden-layer MLPs (the paper's MNIST model, without turn-over masks)
keeps its weights stacked, ``w1 [M, H, D]``, ``b1 [M, H]``, ``w2 [M, C, H]``, ``b2 [M, C]``.
Member ``m`` trains on its own examples (a boolean mask over the training set), in its own order,
from its own initialization: exactly what :func:`training.train` does to one plain ``MLP`` with
the same seeds (``tests/test_ensembles.py`` checks the weights agree). A step gathers every
member's mini-batch ``x[idx] [M, B, D]`` and runs two ``baddbmm``: on a CPU the small products of
narrow models get the efficiency of one large one, on a GPU one launch replaces ``M``.
"""

from __future__ import annotations

import torch
from torch import Tensor
from tqdm.auto import tqdm

from .models import build_model
from .training import Schedule, epoch_order

PARAMS = ("w1", "b1", "w2", "b2")


def init_ensemble(
    n_in: int, hidden: int, n_classes: int, init_seeds: list[int], device="cpu"
) -> dict[str, Tensor]:
    """Stacked initial weights: member ``m`` is ``build_model("mlp", ..., init_seed=seeds[m])``
    without masks, i.e. PyTorch's default ``nn.Linear`` initialization under that seed."""
    mods = [
        build_model(
            "mlp", (n_in,), n_classes, hidden=hidden, turnover=False, mask_seed=0, init_seed=s
        )
        for s in init_seeds
    ]
    stack = lambda f: torch.stack([f(m).detach() for m in mods]).to(device)
    return {
        "w1": stack(lambda m: m.fc1.weight),
        "b1": stack(lambda m: m.fc1.bias),
        "w2": stack(lambda m: m.fc2.weight),
        "b2": stack(lambda m: m.fc2.bias),
    }


def _forward(p: dict[str, Tensor], x: Tensor, dt) -> tuple[Tensor, Tensor]:
    """Hidden activations [M, B, H] and logits [M, B, C] of every member for its own inputs
    ``x [M, B, D]`` (in ``dt``), the products in ``dt`` as autocast would run them."""
    w1, w2 = p["w1"].to(dt), p["w2"].to(dt)
    h = torch.baddbmm(p["b1"].to(dt).unsqueeze(1), x, w1.transpose(1, 2)).relu_()
    return h, torch.baddbmm(p["b2"].to(dt).unsqueeze(1), h, w2.transpose(1, 2))


def train_ensemble(
    params: dict[str, Tensor],
    x: Tensor,
    y: Tensor,
    members: Tensor,
    order_seeds: list[int],
    sched: Schedule,
    *,
    start_epoch: int = 1,
    momenta: dict[str, Tensor] | None = None,
    on_epoch=None,
    progress: bool = False,
) -> dict[str, Tensor]:
    """Train the stacked MLPs ``params`` in place with SGD (``sched``: lr, epochs, batch size,
    momentum, milestones, bf16; not AdamW) and return the momentum buffers.

    x [N, ...], y [N]: the training set, on the params' device. members [M, N] bool: member
    ``m`` trains on ``x[members[m]]``, every member on the same number of examples. Epoch ``e``
    visits them in ``training.epoch_order(order_seeds[m], e, n)`` order, as ``train`` does.
    ``start_epoch`` and ``momenta`` resume a run; ``on_epoch(epoch, params, momenta)`` is called
    after each epoch (to checkpoint)."""
    if sched.optimizer != "sgd":
        raise ValueError("train_ensemble implements SGD only")
    n_per = members.sum(1)
    if len(set(n_per.tolist())) != 1:
        raise ValueError(f"every member needs as many examples; got {sorted(set(n_per.tolist()))}")
    device = params["w1"].device
    dt = torch.bfloat16 if sched.bf16 else params["w1"].dtype
    x = x.flatten(1).to(dt)  # cast once: the inputs never change
    owned = torch.stack([torch.nonzero(m).squeeze(1) for m in members]).to(device)  # [M, n]
    n = owned.shape[1]
    momenta = momenta or {k: torch.zeros_like(v) for k, v in params.items()}
    for epoch in tqdm(range(start_epoch, sched.epochs + 1), disable=not progress, desc="epochs"):
        lr = sched.lr * sched.gamma ** sum(m <= epoch - 1 for m in sched.milestones)
        perm = torch.stack([epoch_order(s, epoch, n) for s in order_seeds]).to(device)
        order = torch.gather(owned, 1, perm)  # [M, n]: each member's examples in its order
        for b in range(0, n, sched.batch_size):
            idx = order[:, b : b + sched.batch_size]  # [M, B]
            _sgd_step(params, momenta, x[idx], y[idx], lr, sched.momentum, dt)
        if on_epoch is not None:
            on_epoch(epoch, params, momenta)
    return momenta


@torch.no_grad()
def _sgd_step(p, buf, x, y, lr: float, momentum: float, dt) -> None:
    """One SGD step of every member on its mean cross-entropy over its batch x [M, B, D].

    The backward pass is written out (it is two layers) so that each weight gradient goes
    straight into its momentum buffer, or its weights, with one fused ``baddbmm_``: no gradient
    tensors are allocated, which is what makes wide members as fast as separate models on a CPU.
    Products run in ``dt`` (bf16 under ``Schedule.bf16``, as autocast would), softmax in fp32."""
    h, z = _forward(p, x, dt)
    dz = torch.softmax(z.float(), 2)  # d(mean CE)/dz = (softmax - onehot) / B
    dz.scatter_add_(2, y.unsqueeze(2), torch.full_like(dz[..., :1], -1.0))
    dz /= x.shape[1]
    dzt = dz.to(dt)
    dh = torch.bmm(dzt, p["w2"].to(dt)).mul_(h > 0)  # [M, B, H]
    grads = {
        "w1": (dh.transpose(1, 2), x),  # [M, H, B] @ [M, B, D]
        "b1": dh.float().sum(1),
        "w2": (dzt.transpose(1, 2), h),  # [M, C, B] @ [M, B, H]
        "b2": dz.sum(1),
    }
    for k, g in grads.items():
        fused = isinstance(g, tuple) and p[k].dtype == dt  # the product can go in place
        if isinstance(g, tuple) and not fused:
            g = torch.bmm(*g)  # in dt; the updates below promote it to the weights' dtype
        if momentum:  # torch.optim.SGD: buf = momentum * buf + g; w -= lr * buf
            if fused:
                buf[k].baddbmm_(*g, beta=momentum)
            else:
                torch.add(g, buf[k], alpha=momentum, out=buf[k])  # one pass over the buffer
            p[k].add_(buf[k], alpha=-lr)
        elif fused:
            p[k].baddbmm_(*g, alpha=-lr)
        else:
            p[k].add_(g, alpha=-lr)


@torch.no_grad()
def predict(
    p: dict[str, Tensor], x: Tensor, *, batch_size: int = 2048, bf16: bool = False
) -> Tensor:
    """Every member's predicted class for every example of ``x`` [N, ...]: [M, N] int64."""
    m, dt = p["w1"].shape[0], torch.bfloat16 if bf16 else p["w1"].dtype
    x = x.flatten(1).to(dt)
    out = [torch.zeros(m, 0, dtype=torch.long, device=x.device)]  # x may be empty
    for b in range(0, len(x), batch_size):
        xb = x[b : b + batch_size]
        out.append(_forward(p, xb.expand(m, *xb.shape), dt)[1].float().argmax(2))
    return torch.cat(out, 1)


def train_flops(n_in: int, hidden: int, n_classes: int, example_passes: int) -> float:
    """Forward + backward FLOPs of ``example_passes`` training examples through the MLP, per
    example: the forward's 2 * (D * H + H * C), both layers' weight gradients, 2 * (D * H + H *
    C), and the gradient at the hidden activations, 2 * H * C (the gradient at the input is
    never computed)."""
    return (4.0 * n_in * hidden + 6.0 * hidden * n_classes) * example_passes


def eval_flops(n_in: int, hidden: int, n_classes: int, examples: int) -> float:
    """Forward FLOPs of evaluating ``examples`` examples."""
    return 2.0 * (n_in * hidden + hidden * n_classes) * examples
