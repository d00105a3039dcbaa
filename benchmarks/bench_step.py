"""Benchmark: one SGD step of the turn-over-dropout MLP against a plain MLP of the same shape.

Measures, in one run and interleaved (so that drift hits both alike):
  * the time ratio turn-over / plain of a training step (target: 1.15x or less), fp32 and bf16;
  * the achieved GFLOP/s of the step, counting 6 * B * (d_in * H + H * C) for forward + backward.

Prints a table and writes benchmarks/results/bench_step.json. Usage:
    python benchmarks/bench_step.py [--hidden 4096] [--batch 256] [--reps 30] [--device cpu]
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

from memlib.models import MLP
from memlib.runner import machine
from memlib.scores import autocast


def make_step(turnover: bool, bf16: bool, args, device):
    torch.manual_seed(0)
    model = MLP(784, args.hidden, 10, turnover=turnover).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.06)
    x = torch.randn(60_000, 784, device=device)  # device-resident data, as in training
    y = torch.randint(0, 10, (60_000,), device=device)
    perm = torch.randperm(60_000, device=device)
    state = {"b": 0}

    def step():
        b = state["b"] = (state["b"] + args.batch) % (60_000 - args.batch)
        idx = perm[b : b + args.batch]
        with autocast(device, bf16):
            loss = F.cross_entropy(model(x[idx], idx, "unmuted").float(), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()

    return step


def timeit(step, n: int) -> float:
    t = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - t) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=4096)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--reps", type=int, default=30, help="rounds; each times 5 steps per variant")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "bench_step.json"
    )
    args = ap.parse_args()
    device = torch.device(args.device)
    flop = 6 * args.batch * (784 * args.hidden + args.hidden * 10)
    rows = []
    for bf16 in (False, True):
        steps = {t: make_step(t, bf16, args, device) for t in (False, True)}
        for s in steps.values():
            timeit(s, 10)  # warm-up
        times = {False: [], True: []}
        for _ in range(args.reps):  # interleaved rounds
            for t, s in steps.items():
                times[t].append(timeit(s, 5))
        plain, turn = statistics.median(times[False]), statistics.median(times[True])
        rows.append(
            {
                "dtype": "bf16" if bf16 else "fp32",
                "plain_ms": plain * 1e3,
                "turnover_ms": turn * 1e3,
                "ratio": turn / plain,
                "plain_gflops": flop / plain / 1e9,
                "turnover_gflops": flop / turn / 1e9,
            }
        )
    result = {
        "machine": machine(),
        "device": str(device),
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "hidden": args.hidden,
        "batch": args.batch,
        "flop_per_step": flop,
        "rows": rows,
    }
    print(
        f"MLP 784-{args.hidden}-10, batch {args.batch}, {device}, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}"
    )
    print(
        f"{'dtype':6} {'plain ms':>9} {'turnover ms':>12} {'ratio':>6} "
        f"{'plain GFLOP/s':>14} {'turnover GFLOP/s':>17}"
    )
    for r in rows:
        print(
            f"{r['dtype']:6} {r['plain_ms']:9.2f} {r['turnover_ms']:12.2f} {r['ratio']:6.3f} "
            f"{r['plain_gflops']:14.0f} {r['turnover_gflops']:17.0f}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
