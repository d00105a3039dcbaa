"""The chapter's analyses of a trajectory, each cached under the trajectory's key and its own
parameters: rewinding grid, layer retraining, greedy neuron removal, and the two baselines that
detect mislabelled examples (learning time, forgetting time)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..config import describe_device, resolve_device
from ..masks import hash32
from ..results import Computed, Result, cached
from ..scores import autocast
from . import code_version
from .layers import Retraining, retrain_layer, rewind_grid
from .neurons import remove_until_flip, reset
from .resnet import LAYERS
from .trajectory import Trajectory, accuracies, load_data, one_cycle, predict

_EVAL, _REMOVE, _FORGET = 0x3E7A10, 0x4B2C55, 0x7F3D21  # salts of the analyses' streams


@dataclasses.dataclass
class Analysis:
    """A cached analysis of a trajectory: its table and the stored result (provenance, time)."""

    table: pd.DataFrame
    result: Result


def _cached(kind: str, traj: Trajectory, params: dict, compute) -> Analysis:
    """``compute(data)``'s table for ``traj``, cached under (trajectory, ``params``)."""
    device = resolve_device(traj.config.device)
    key = {"trajectory": traj.result.meta["key"], "code": code_version()} | params
    meta = {"profile": traj.result.meta.get("profile", ""), "device": describe_device(device)}
    run = lambda folder: Computed(compute(load_data(traj.config, device)), {})
    result = cached(kind, key, run, meta=meta)
    return Analysis(result.history, result)


def eval_sets(data, n_clean: int, n_test: int, seed: int):
    """Every noisy training example with ``n_clean`` random clean ones, and ``n_test`` random
    test examples (index tensors)."""
    g = torch.Generator().manual_seed(hash32(seed ^ _EVAL))
    noisy = torch.nonzero(data.corrupted.cpu()).flatten()
    clean = torch.nonzero(~data.corrupted.cpu()).flatten()
    clean = clean[torch.randperm(len(clean), generator=g)[:n_clean]].sort().values
    test = torch.randperm(len(data.y_test), generator=g)[:n_test].sort().values
    return torch.cat([noisy, clean]).sort().values, test


def rewinding(traj: Trajectory, epochs: list[int], n_clean: int, n_test: int, *,
              stats: bool = True, progress: bool = True) -> Analysis:  # fmt: skip
    """:func:`layers.rewind_grid` over ``epochs`` (cached), with the unrewound model's
    accuracies at every epoch (``layer`` "none": the learning curves)."""
    params = {"epochs": list(epochs), "n_clean": n_clean, "n_test": n_test, "stats": stats}

    def compute(data):
        ev, te = eval_sets(data, n_clean, n_test, traj.config.order_seed)
        grid = rewind_grid(traj, data, epochs, ev, te, stats=stats, progress=progress)
        curve = [{"layer": "none", "epoch": t} | accuracies(traj.model(data, t), data,
                 traj.config.bf16, ev, te) for t in range(traj.config.epochs + 1)]  # fmt: skip
        return pd.concat([grid, pd.DataFrame(curve)], ignore_index=True)

    return _cached("rewind", traj, params, compute)


def retraining(traj: Trajectory, r: Retraining, n_clean: int, n_test: int,
               progress: bool = True) -> Analysis:  # fmt: skip
    """:func:`layers.retrain_layer` for each of the nine layers (cached): one row per (layer,
    retraining epoch)."""
    params = {"retrain": dataclasses.asdict(r), "n_clean": n_clean, "n_test": n_test}

    def compute(data):
        ev, te = eval_sets(data, n_clean, n_test, traj.config.order_seed)
        seed = hash32(traj.config.order_seed ^ _EVAL)
        out = [retrain_layer(traj, data, layer, r, ev, te, order_seed=seed)
               for layer in tqdm(LAYERS, desc="retrain", disable=not progress)]  # fmt: skip
        return pd.concat(out, ignore_index=True)

    return _cached("retrain", traj, params, compute)


def removal(traj: Trajectory, n_per_group: int, *, n_ref: int, n_noise: int, sigma: float,
            max_steps: int, n_rest: int, seed: int = 0, progress: bool = True) -> Analysis:  # fmt: skip
    """Greedy neuron removal (:func:`neurons.remove_until_flip`) on ``n_per_group`` distinct
    random noisy and as many clean training examples that the final model predicts with their
    label (cached). One row per example: ``n`` units zeroed, ``flipped``, the accuracy on
    ``n_rest`` other training examples before and after, and the units zeroed per layer."""
    params = {"n_per_group": n_per_group, "n_ref": n_ref, "n_noise": n_noise, "sigma": sigma,
              "max_steps": max_steps, "n_rest": n_rest, "seed": seed}  # fmt: skip

    def compute(data):
        model = traj.model(data).float()
        fitted = torch.as_tensor(traj.arrays["final_pred"]).to(data.y_train.device) == data.y_train
        g = torch.Generator().manual_seed(hash32(seed ^ _REMOVE))
        pick = lambda m: torch.nonzero(m.cpu()).flatten()[
            torch.randperm(int(m.sum()), generator=g)[:n_per_group]]  # fmt: skip
        chosen = torch.cat([pick(fitted & data.corrupted), pick(fitted & ~data.corrupted)])
        rows = []
        for i in tqdm(chosen.tolist(), desc="examples", disable=not progress):
            others = torch.randperm(data.n_train - 1, generator=g)
            others = others + (others >= i).long()  # never the example itself
            ref, rest = others[:n_ref], others[n_ref : n_ref + n_rest]
            before = _acc(model, data, rest)
            r = remove_until_flip(model, data.x_train[i], int(data.y_train[i]),
                                  data.x_train[ref], data.y_train[ref], n_noise=n_noise,
                                  sigma=sigma, max_steps=max_steps, gen=g)  # fmt: skip
            row = {"index": i, "corrupted": bool(data.corrupted[i]), "n": r.n,
                   "flipped": r.flipped, "rest_before": before, "rest_after": _acc(model, data, rest)}  # fmt: skip
            rows.append(row | dict(zip(LAYERS, r.per_layer(LAYERS).tolist())))
            reset(model)
        return pd.DataFrame(rows)

    return _cached("removal", traj, params, compute)


def _acc(model, data, idx) -> float:
    return (predict(model, data.x_train[idx], False) == data.y_train[idx]).float().mean().item()


def learning_time(correct: np.ndarray) -> np.ndarray:
    """Each example's learning time [N] from its per-epoch mini-batch correctness [E, N]: the
    first epoch from which it is predicted with its label at every later epoch (E + 1: not at
    the last). Mislabelled examples are learned late (Jiang et al. 2021)."""
    e = correct.shape[0]
    wrong = ~correct.astype(bool)
    last_wrong = np.where(wrong.any(0), e - np.argmax(wrong[::-1], axis=0), 0)  # 1-based epoch
    return last_wrong + 1


def forgetting_time(traj: Trajectory, epochs: int, n_second: int, progress: bool = True) -> Analysis:
    """Second-split forgetting time (Maini et al. 2022) of every training example [N] (cached):
    the final model is trained on a second split (``n_second`` test images with their true
    labels) for ``epochs`` epochs, one-cycle at the run's recipe; an example's forgetting time is
    the first epoch from which it is never again predicted with its (possibly noisy) label
    (0: not predicted with it at the start; ``epochs`` + 1: never forgotten). Mislabelled
    examples are forgotten first. The table's column ``forgetting_time`` [N]."""
    cfg = traj.config
    params = {"epochs": epochs, "n_second": n_second}

    def compute(data):
        model = traj.model(data)
        g = torch.Generator().manual_seed(hash32(cfg.order_seed ^ _FORGET))
        second = torch.randperm(len(data.y_test), generator=g)[:n_second].to(data.y_test.device)
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                              weight_decay=cfg.weight_decay)  # fmt: skip
        sched = dataclasses.replace(cfg, epochs=epochs, peak_epoch=max(1, epochs // 5))
        steps = math.ceil(n_second / cfg.batch_size)
        kept = [(predict(model, data.x_train, cfg.bf16) == data.y_train).cpu().numpy()]
        for epoch in tqdm(range(1, epochs + 1), desc="second split", disable=not progress):
            perm = second[torch.randperm(n_second, generator=g).to(second.device)]
            model.train()
            for i, b in enumerate(range(0, n_second, cfg.batch_size)):
                idx = perm[b : b + cfg.batch_size]
                for group in opt.param_groups:
                    group["lr"] = one_cycle((epoch - 1) * steps + i, steps, sched)
                with autocast(data.x_train.device, cfg.bf16):
                    loss = F.cross_entropy(model(data.x_test[idx]).float(), data.y_test[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            kept.append((predict(model, data.x_train, cfg.bf16) == data.y_train).cpu().numpy())
        kept = np.stack(kept)  # [epochs + 1, N]
        never_again = np.where(kept.any(0), kept.shape[0] - np.argmax(kept[::-1], axis=0), 0)
        return pd.DataFrame({"forgetting_time": never_again})

    return _cached("forgetting", traj, params, compute)
