"""Training one network of the paper, with its regularizers, resumable epoch by epoch.

The recipe is the paper's (§2): plain SGD for the MLPs, SGD with momentum 0.9 and the learning
rate halved every 15 epochs for the CNN; the pages say where the cpu profile departs from it.
Every source of randomness has its own seed: the data order of epoch ``e`` is
:func:`memlib.training.epoch_order` of ``order_seed``, and the dropout and noise masks of epoch
``e`` are drawn from ``noise_seed`` and ``e``, so a resumed run needs no saved random state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from ..checkpoint import load_checkpoint, save_atomic
from ..errors import MemlibError
from ..training import epoch_order
from .lass import lass
from .nets import Regularizer


@dataclass(frozen=True)
class Recipe:
    """SGD: ``lr`` halved every ``halve_every`` epochs (0: never)."""

    epochs: int  # training epochs
    lr: float  # learning rate
    momentum: float = 0.0  # SGD momentum (the paper: 0 for the MLPs, 0.9 for the CNN)
    batch_size: int = 128  # mini-batch size (the paper does not give it)
    halve_every: int = 0  # halve the lr every k epochs (the CNN: 15); 0: constant

    def __post_init__(self):
        if self.epochs < 1 or self.lr <= 0 or self.batch_size < 1 or self.halve_every < 0:
            raise MemlibError(f"bad recipe {self}: need epochs, lr, batch_size > 0")

    def lr_at(self, epoch: int) -> float:
        """The learning rate of epoch ``epoch`` (1-based)."""
        return self.lr * 0.5 ** ((epoch - 1) // self.halve_every if self.halve_every else 0)

    def key(self) -> dict:
        return asdict(self)


# LASS while training with adversarial examples (footnote 7: "default parameters"); fewer
# steps than when measuring the CSR, since it runs on every mini-batch.
ADV_LASS = {"r": 0.3, "alpha": 0.25, "beta": 0.2, "max_iter": 5}


def fit(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    recipe: Recipe,
    *,
    reg: Regularizer | None = None,
    order_seed: int = 0,
    noise_seed: int = 0,
    scale: Tensor | float = 1.0,
    on_epoch: Callable[[int, nn.Module], dict] | None = None,
    folder: Path | None = None,
    progress: bool = False,
) -> list[dict]:
    """Train ``model`` in place on x [N, ...], y [N]; return one history row per epoch.

    ``on_epoch(epoch, model)`` returns the metrics recorded after each epoch (and at epoch 0,
    before training), the model in eval mode. ``reg.weight_decay`` is SGD's; the other
    regularizers live in the model (:mod:`.nets`) except ``reg.adversarial``: the loss is then
    ``(1 − w) ℓ(x, y) + w ℓ(x̂, y)``, x̂ the critical sample LASS finds near x (x itself where it
    finds none; ``scale``: one 0-255 pixel unit in input units). With ``folder``, a checkpoint
    after every epoch; a run resumes from it."""
    reg = reg or Regularizer()
    opt = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                          weight_decay=reg.weight_decay)  # fmt: skip
    path = folder / "checkpoint.pt" if folder else None
    state = load_checkpoint(path, x.device, ("model", "opt", "epoch", "history"))
    history, start = [], 1
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        history, start = state["history"], state["epoch"] + 1
    elif on_epoch is not None:
        history.append({"epoch": 0, **_evaluated(model, on_epoch, 0)})
    for epoch in tqdm(range(start, recipe.epochs + 1), disable=not progress, desc="epochs"):
        for group in opt.param_groups:
            group["lr"] = recipe.lr_at(epoch)
        loss = _epoch(model, opt, x, y, recipe, reg, scale, epoch_order(order_seed, epoch, len(y)),
                      seed=noise_seed * 100_003 + epoch)  # fmt: skip
        row = {"epoch": epoch, "lr": recipe.lr_at(epoch), "loss": loss}
        if on_epoch is not None:
            row |= _evaluated(model, on_epoch, epoch)
        history.append(row)
        if path is not None:
            save_atomic({"model": model.state_dict(), "opt": opt.state_dict(), "epoch": epoch,
                         "history": history}, path)  # fmt: skip
    model.eval()
    return history


def _epoch(model, opt, x, y, recipe, reg, scale, order: Tensor, seed: int) -> float:
    """One pass over the data in ``order``; the mean training loss."""
    model.train()
    total, order = 0.0, order.to(x.device)
    devices = [x.device] if x.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)  # the dropout and noise masks of this epoch
        for b in range(0, len(order), recipe.batch_size):
            idx = order[b : b + recipe.batch_size]
            xb, yb = x[idx], y[idx]
            loss = F.cross_entropy(model(xb), yb)
            if reg.adversarial:
                crit, x_hat = lass(model, xb, scale=scale, seed=seed * 7919 + b, **ADV_LASS)
                x_hat = torch.where(crit.view(-1, *[1] * (xb.dim() - 1)), x_hat, xb)
                model.train()
                adv = F.cross_entropy(model(x_hat.detach()), yb)
                loss = (1 - reg.adversarial) * loss + reg.adversarial * adv
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
    return total / len(order)


def _evaluated(model: nn.Module, on_epoch, epoch: int) -> dict:
    model.eval()
    return dict(on_epoch(epoch, model))


@torch.no_grad()
def predict(model: nn.Module, x: Tensor, batch_size: int = 1024) -> Tensor:
    """The predicted class of every example of ``x`` [N, ...] (eval mode): [N] int64."""
    model.eval()
    out = [model(xb).argmax(1) for xb in x.split(batch_size)]
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long, device=x.device)


def accuracy(model: nn.Module, x: Tensor, y: Tensor) -> float:
    return float((predict(model, x) == y).float().mean()) if len(y) else float("nan")
