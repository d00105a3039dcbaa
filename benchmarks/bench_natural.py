"""Benchmark: the natural-memorization ensembles (``memlib.natural.ensemble``) against one model
after another.

M members of a family (cnn at widths 4 and 8, mlp1 at width 64) train on Fashion-MNIST: each on
its own random ``--per-member`` of ``--n-train`` examples, in its own order
(``training.epoch_order``), from its own initialization (``ensemble.members``), with SGD,
momentum, weight decay and the triangular learning rate of ``ensemble.Recipe``. Stacked:
``ensemble.Stacked`` + ``ensemble.train``, all members at once. Sequential: each member a plain
``nets.build`` module with its own ``torch.optim.SGD``, one after another, on the same subsets,
orders and schedule (the two end at the same weights up to float rounding, which later steps
amplify; the largest difference and the largest weight are reported). Prediction:
``Stacked.predict`` on ``--n-predict`` test examples, in its default batches and in batches of
``--predict-batch``, against one forward pass per member. Repetitions are interleaved, so that
drift hits both alike.

Prints a table and writes benchmarks/results/bench_natural.json. Usage:
    python benchmarks/bench_natural.py [--n-models 64] [--epochs 2] [--reps 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from memlib.groundtruth import subset_mask
from memlib.natural import ensemble
from memlib.natural.data import DataSpec
from memlib.natural.data import build as build_data
from memlib.runner import machine
from memlib.training import epoch_order

CASES = ["cnn:4", "cnn:8", "mlp1:64"]


def setup(family, width, ts, seeds):
    """Fresh members (one module each) and the stacked copy of the same initializations."""
    shape = tuple(ts.x_train.shape[1:])
    mods = ensemble.members(family, width, shape, ts.n_classes, seeds)
    return mods, ensemble.Stacked(mods)


def stacked_train(net, x, y, owned, orders, recipe):
    ensemble.train(net, x, y, owned, orders, recipe)


def sequential_train(mods, x, y, owned, orders, recipe):
    """One member after another: the obvious loop, the same recipe as ``ensemble.train``."""
    n = owned.shape[1]
    steps = -(-n // recipe.batch_size)
    for mod, own, seed in zip(mods, owned, orders, strict=True):
        opt = torch.optim.SGD(mod.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                              weight_decay=recipe.weight_decay)  # fmt: skip
        for epoch in range(1, recipe.epochs + 1):
            order = own[epoch_order(seed, epoch, n)]
            for i, b in enumerate(range(0, n, recipe.batch_size)):
                idx = order[b : b + recipe.batch_size]
                opt.param_groups[0]["lr"] = recipe.lr_at((epoch - 1) * steps + i,
                                                         recipe.epochs * steps)  # fmt: skip
                loss = F.cross_entropy(mod(x[idx]), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()


@torch.no_grad()
def sequential_predict(mods, x):
    return torch.stack([mod(x).argmax(1) for mod in mods])


def max_weight_diff(net, mods) -> float:
    """The largest difference between the stacked weights and the members' own."""
    layers = [list(mod.parameters()) for mod in mods]
    stacked = [p for pair in zip(net.weights, net.biases, strict=True) for p in pair]
    return max(float((s.detach() - torch.stack([ps[i].detach() for ps in layers])).abs().max())
               for i, s in enumerate(stacked))  # fmt: skip


def max_abs(net) -> float:
    return max(float(p.detach().abs().max()) for p in net.parameters())


def timed(fn, *args) -> float:
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-models", type=int, default=64, help="members M (64)")
    ap.add_argument("--n-train", type=int, default=1000, help="training examples (1,000)")
    ap.add_argument("--per-member", type=int, default=700, help="training examples per member")
    ap.add_argument("--n-predict", type=int, default=2000, help="test examples predicted")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--predict-batch", type=int, default=32, help="the second predict batch")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cases", nargs="+", default=CASES, help="family:width (cnn:4 cnn:8 mlp1:64)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ts = build_data(DataSpec("fashion-mnist", args.n_train, args.n_predict))
    x, y, xt = ts.x_train, ts.y_train, ts.x_test
    m = args.n_models
    masks = np.stack([subset_mask(args.n_train, args.per_member, 1000 + j) for j in range(m)])
    owned = torch.as_tensor(np.stack([np.flatnonzero(k) for k in masks]))
    inits, orders = list(range(m)), [2000 + j for j in range(m)]
    recipe = ensemble.Recipe(epochs=args.epochs, lr=args.lr, batch_size=args.batch)
    rows = []
    for case in args.cases:
        family, width = case.split(":")[0], int(case.split(":")[1])
        train = {"sequential": [], "stacked": []}
        pred = {"sequential": [], "stacked": [], "stacked_b": []}
        # warm-up (two members), then interleaved repetitions
        mods, net = setup(family, width, ts, inits[:2])
        stacked_train(net, x, y, owned[:2], orders[:2], recipe)
        sequential_train(mods, x, y, owned[:2], orders[:2], recipe)
        net.predict(xt), sequential_predict(mods, xt)
        for _ in range(args.reps):
            mods, net = setup(family, width, ts, inits)
            train["sequential"].append(timed(sequential_train, mods, x, y, owned, orders, recipe))
            train["stacked"].append(timed(stacked_train, net, x, y, owned, orders, recipe))
            pred["sequential"].append(timed(sequential_predict, mods, xt))
            pred["stacked"].append(timed(net.predict, xt))
            pred["stacked_b"].append(timed(net.predict, xt, args.predict_batch))
        diff = max_weight_diff(net, mods)
        agree = float((net.predict(xt) == sequential_predict(mods, xt)).float().mean())
        t_seq, t_ens = (statistics.median(train[k]) / args.epochs for k in train)
        p_seq, p_ens, p_b = (statistics.median(pred[k]) for k in pred)
        rows.append({
            "family": family, "width": width,
            "params_per_member": sum(p.numel() for p in mods[0].parameters()),
            "sequential_s_per_epoch": t_seq, "stacked_s_per_epoch": t_ens,
            "train_speedup": t_seq / t_ens,
            "sequential_predict_s": p_seq, "stacked_predict_s": p_ens,
            "predict_speedup": p_seq / p_ens,
            "stacked_predict_batch_s": p_b, "predict_batch_speedup": p_seq / p_b,
            "max_weight_diff": diff, "max_abs_weight": max_abs(net),
            "prediction_agreement": agree,
            "train_s_runs": train, "predict_s_runs": pred,
        })  # fmt: skip
    print(
        f"{machine()}; Fashion-MNIST, {m} members, {args.per_member} of {args.n_train} examples "
        f"each, batch {args.batch}, {args.epochs} epochs; predict {args.n_predict} examples; "
        f"median of {args.reps}"
    )
    print(
        f"{'family':>6} {'width':>5} | {'seq s/epoch':>11} {'stack s/epoch':>13} {'speed-up':>8} | "
        f"{'seq predict s':>13} {'stack predict s':>15} {'speed-up':>8} "
        f"{f'batch {args.predict_batch} s':>10} {'speed-up':>8} | {'max |dw|':>8} "
        f"{'agree':>6}"
    )
    for r in rows:
        print(
            f"{r['family']:>6} {r['width']:>5} | {r['sequential_s_per_epoch']:>11.3f} "
            f"{r['stacked_s_per_epoch']:>13.3f} {r['train_speedup']:>7.2f}x | "
            f"{r['sequential_predict_s']:>13.3f} {r['stacked_predict_s']:>15.3f} "
            f"{r['predict_speedup']:>7.2f}x {r['stacked_predict_batch_s']:>10.3f} "
            f"{r['predict_batch_speedup']:>7.2f}x | {r['max_weight_diff']:>8.1e} "
            f"{r['prediction_agreement']:>6.1%}"
        )
    out = Path(__file__).resolve().parent / "results" / "bench_natural.json"
    out.parent.mkdir(exist_ok=True)
    info = {
        "machine": machine(),
        "device": "cpu",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "host": platform.node(),
        "data": ts.source,
        "args": vars(args),
        "rows": rows,
    }
    out.write_text(json.dumps(info, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
