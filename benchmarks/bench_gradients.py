"""Benchmark: Eq. 3/4 statistics of one mini-batch by the Gram identity against BackPACK BatchGrad.

Both compute, for a batch of the 784-4096-10 MLP (fp32): the [B, B] cosine matrix of per-example
gradients and every example's contribution to the batch gradient. BackPACK materializes the
[B, 3.2M] per-example gradients first; the fast path (``memlib.gradients``) needs only the layers'
inputs and output gradients.

Each method runs in its own fresh process, so its peak memory is measured alone: the rise of the
process's peak resident set (``ru_maxrss``) above its resident set just before the first call.
Processes alternate (fast, BackPACK, fast, BackPACK, ...) so that machine drift hits both alike.
Targets (issue 3): at least 50x faster and at least 20x less peak memory at batch 256.

Prints a table and writes benchmarks/results/bench_gradients.json. Usage:
    python benchmarks/bench_gradients.py [--hidden 4096] [--batch 256] [--rounds 2] [--reps 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from memlib import gradients as G
from memlib.models import MLP
from memlib.runner import machine


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _stats(method: str, model, x, y, idx):
    if method == "fast":
        g = G.gram(G.factors(model, x, y, idx))
    else:
        v = G.backpack_grads(model, x, y, idx)
        g = v @ v.T
    return G.cosine(g), G.contributions(g)


def worker(args) -> None:
    torch.manual_seed(0)
    model = MLP(784, args.hidden, 10, turnover=True)
    x = torch.randn(args.batch, 1, 28, 28)
    y = torch.randint(0, 10, (args.batch,))
    idx = torch.arange(args.batch)
    before = _rss_mb()
    times = []
    for _ in range(args.reps):
        t = time.perf_counter()
        cos, contrib = _stats(args.worker, model, x, y, idx)
        times.append(time.perf_counter() - t)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    out = {"time_s": min(times), "peak_mb": peak - before}
    if args.worker == "backpack":  # agreement, from the same process's reference
        fast_cos, fast_contrib = _stats("fast", model, x, y, idx)
        out["max_rel_err_cos"] = G.max_rel_error(fast_cos, cos)
        out["max_rel_err_contrib"] = G.max_rel_error(fast_contrib, contrib)
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=4096)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=2, help="fresh processes per method")
    ap.add_argument("--reps", type=int, default=3, help="timed calls per process (min taken)")
    ap.add_argument("--worker", choices=["fast", "backpack"], help=argparse.SUPPRESS)
    ap.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "bench_gradients.json"
    )
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    runs: dict[str, list[dict]] = {"fast": [], "backpack": []}
    for _ in range(args.rounds):
        for method in runs:
            cmd = [sys.executable, __file__, "--worker", method]
            cmd += ["--hidden", str(args.hidden), "--batch", str(args.batch)]
            cmd += ["--reps", str(args.reps)]
            res = subprocess.run(cmd, capture_output=True, text=True, check=True)
            runs[method].append(json.loads(res.stdout.strip().splitlines()[-1]))
    med = {
        m: {k: statistics.median(r[k] for r in rs) for k in ("time_s", "peak_mb")}
        for m, rs in runs.items()
    }
    err = max(max(r["max_rel_err_cos"], r["max_rel_err_contrib"]) for r in runs["backpack"])
    result = {
        "machine": machine(),
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "hidden": args.hidden,
        "batch": args.batch,
        "params": 784 * args.hidden + args.hidden + args.hidden * 10,
        "runs": runs,
        "median": med,
        "speedup": med["backpack"]["time_s"] / med["fast"]["time_s"],
        "memory_ratio": med["backpack"]["peak_mb"] / max(med["fast"]["peak_mb"], 1.0),
        "max_rel_err": err,
    }
    print(
        f"MLP 784-{args.hidden}-10, batch {args.batch}, fp32, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}; cosine matrix + contributions of one batch"
    )
    print(f"{'method':16} {'time ms':>9} {'peak MB':>9}")
    for m, label in (("fast", "Gram identity"), ("backpack", "BackPACK BatchGrad")):
        print(f"{label:16} {med[m]['time_s'] * 1e3:9.1f} {med[m]['peak_mb']:9.0f}")
    print(
        f"speed-up {result['speedup']:.0f}x, peak memory {result['memory_ratio']:.0f}x less "
        f"(targets 50x and 20x); largest relative deviation {err:.1e}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
