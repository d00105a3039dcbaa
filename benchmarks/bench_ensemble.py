"""Benchmark: training M small MLPs as one vectorized ensemble against one after another.

Each of M one-hidden-layer MLPs (MNIST, widths 64, 256, 512) trains one epoch on its own random
subset of ``--examples`` training images, in its own order, SGD with momentum (the ground-truth
chapter's recipe). Sequential: a plain ``nn.Module`` and ``torch.optim.SGD`` per model, one after
another (how public Feldman-Zhang code trains). Ensemble: ``memlib.ensembles.train_ensemble``.
Both in fp32 and bf16 autocast, repetitions interleaved so that drift hits both alike.

Reports the time per model-epoch, the speed-up, and the achieved GFLOP/s (6 * (D*H + H*C) per
example) against the machine's peak: the nominal fp32 figure given with ``--peak`` and the
best GFLOP/s of a 2048^3 matrix product measured in the same run, in fp32 and bf16.

Prints a table and writes benchmarks/results/bench_ensemble.json. Usage:
    python benchmarks/bench_ensemble.py [--n-models 16] [--examples 7000] [--reps 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from memlib.data import load_dataset
from memlib.ensembles import init_ensemble, train_ensemble, train_flops
from memlib.models import build_model
from memlib.runner import machine
from memlib.scores import autocast
from memlib.training import Schedule, epoch_order


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def sequential(x, y, members, seeds, sched, hidden, device):
    """One model after another: the obvious loop."""
    for m, s in enumerate(seeds):
        model = build_model(
            "mlp", (784,), 10, hidden=hidden, turnover=False, mask_seed=0, init_seed=s
        ).to(device)
        opt = torch.optim.SGD(model.parameters(), lr=sched.lr, momentum=sched.momentum)
        own = torch.nonzero(members[m]).squeeze(1)
        perm = own[epoch_order(s, 1, len(own)).to(device)]
        for b in range(0, len(perm), sched.batch_size):
            idx = perm[b : b + sched.batch_size]
            with autocast(device, sched.bf16):
                loss = F.cross_entropy(model(x[idx]).float(), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    sync(device)


def ensemble(x, y, members, seeds, sched, hidden, device):
    p = init_ensemble(784, hidden, 10, seeds, device)
    train_ensemble(p, x, y, members, seeds, sched)
    sync(device)


def gemm_peak(device, dtype, n=2048, reps=10) -> float:
    """The best GFLOP/s of one n x n matrix product over ``reps`` tries."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    best = float("inf")
    for _ in range(reps + 1):
        sync(device)
        t = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-models", "--models", type=int, default=16, help="models M (16)")
    ap.add_argument("--examples", type=int, default=7000, help="training examples per model")
    ap.add_argument("--widths", type=int, nargs="+", default=[64, 256, 512])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--peak", type=float, default=330.0, help="nominal fp32 peak, GFLOP/s")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    device = torch.device(args.device)
    data = load_dataset("mnist", device=device)
    x, y = data.x_train.flatten(1), data.y_train
    g = torch.Generator().manual_seed(0)
    members = torch.zeros(args.n_models, data.n_train, dtype=torch.bool)
    for m in range(args.n_models):
        members[m, torch.randperm(data.n_train, generator=g)[: args.examples]] = True
    members = members.to(device)
    seeds = list(range(args.n_models))
    peaks = {"fp32": gemm_peak(device, torch.float32), "bf16": gemm_peak(device, torch.bfloat16)}
    rows = []
    for hidden in args.widths:
        for prec in ("fp32", "bf16"):
            sched = Schedule(
                lr=0.06, epochs=1, batch_size=args.batch, momentum=0.9, bf16=prec == "bf16"
            )
            fns = {"sequential": sequential, "ensemble": ensemble}
            times = {k: [] for k in fns}
            for fn in fns.values():  # warm-up
                fn(x, y, members[:2], seeds[:2], sched, hidden, device)
            for _ in range(args.reps):
                for k, fn in fns.items():
                    t = time.perf_counter()
                    fn(x, y, members, seeds, sched, hidden, device)
                    times[k].append(time.perf_counter() - t)
            flops = train_flops(784, hidden, 10, args.examples * args.n_models)
            t_seq, t_ens = (statistics.median(times[k]) for k in ("sequential", "ensemble"))
            rows.append(
                {
                    "width": hidden,
                    "precision": prec,
                    "sequential_ms_per_model": 1e3 * t_seq / args.n_models,
                    "ensemble_ms_per_model": 1e3 * t_ens / args.n_models,
                    "speedup": t_seq / t_ens,
                    "sequential_gflops": flops / t_seq / 1e9,
                    "ensemble_gflops": flops / t_ens / 1e9,
                    "ensemble_of_nominal_fp32_peak": flops / t_ens / 1e9 / args.peak,
                    "ensemble_of_measured_gemm": flops / t_ens / 1e9 / peaks[prec],
                }
            )
    print(
        f"device {device} ({torch.get_num_threads()} threads), {args.n_models} models, "
        f"{args.examples} examples each, batch {args.batch}, 1 epoch, median of {args.reps}"
    )
    print(
        f"peak: nominal fp32 {args.peak:.0f} GFLOP/s; measured best 2048^3 GEMM "
        f"fp32 {peaks['fp32']:.0f}, bf16 {peaks['bf16']:.0f} GFLOP/s"
    )
    head = (
        f"{'width':>5} {'prec':>5} | {'seq ms/model':>12} {'ens ms/model':>12} {'speed-up':>8} | "
        f"{'seq GF/s':>8} {'ens GF/s':>8} {'of fp32 peak':>12} {'of GEMM':>8}"
    )
    print(head)
    for r in rows:
        print(
            f"{r['width']:>5} {r['precision']:>5} | {r['sequential_ms_per_model']:>12.1f} "
            f"{r['ensemble_ms_per_model']:>12.1f} {r['speedup']:>7.2f}x | "
            f"{r['sequential_gflops']:>8.0f} {r['ensemble_gflops']:>8.0f} "
            f"{r['ensemble_of_nominal_fp32_peak']:>12.0%} {r['ensemble_of_measured_gemm']:>8.0%}"
        )
    out = Path(__file__).resolve().parent / "results" / "bench_ensemble.json"
    out.parent.mkdir(exist_ok=True)
    info = {
        "machine": machine(),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "host": platform.node(),
        "args": vars(args),
        "gemm_gflops": peaks,
        "rows": rows,
    }
    out.write_text(json.dumps(info, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
