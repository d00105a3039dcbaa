"""Benchmark: what makes VGG-11 training fast on this CPU (issue 4's cpu profile).

One SGD step (lr 0.01, momentum 0.9, batch 256) of VGG-11 without batch-norm, with spatial
turn-over dropout, on CIFAR-10-shaped data (50,000 random 3×32×32 images). Against the plain
loop (fp32, NCHW, a torch DataLoader over a TensorDataset) it measures, in one run and
interleaved, each lever on its own and all together:

  * resident: the dataset stays one tensor on the device and batches are index gathers;
  * channels_last: model and inputs in NHWC memory format (oneDNN's preferred layout);
  * bf16: bf16 autocast (AMX on this CPU).

Prints a table (median ms per step, speed-up over the plain loop, achieved GFLOP/s) and writes
benchmarks/results/bench_vgg.json. Usage:
    python benchmarks/bench_vgg.py [--width 1.0] [--batch 256] [--reps 3] [--steps 3]
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from memlib.models import build_model
from memlib.runner import machine
from memlib.scores import autocast

VARIANTS = {  # name: (resident, channels_last, bf16)
    "plain loop (fp32, NCHW, DataLoader)": (False, False, False),
    "+ resident data": (True, False, False),
    "+ channels_last": (False, True, False),
    "+ bf16": (False, False, True),
    "resident + channels_last": (True, True, False),
    "resident + bf16": (True, False, True),
    "all three": (True, True, True),
}


def conv_flop(width: float, batch: int) -> float:
    """Forward + backward multiply-adds of the convolutions and the classifier, times 2 × 3."""
    model = build_model(
        "vgg11", (3, 32, 32), 10, hidden=0, turnover=False, mask_seed=0, init_seed=0, width=width
    )
    macs, hw = 0, 32
    for conv, pool in zip(model.convs, model.pool_after, strict=True):
        macs += conv.in_channels * conv.out_channels * 9 * hw * hw
        hw //= 2 if pool else 1
    macs += model.fc.in_features * model.fc.out_features
    return 6.0 * macs * batch


def make_step(resident: bool, channels_last: bool, bf16: bool, args):
    torch.manual_seed(0)
    model = build_model(
        "vgg11",
        (3, 32, 32),
        10,
        hidden=0,
        turnover=True,
        mask_seed=0,
        init_seed=0,
        width=args.width,
    )
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    n = 50_000
    x = torch.randn(n, 3, 32, 32).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (n,))
    idx_all = torch.arange(n)
    if resident:
        perm = torch.randperm(n)
        batches = (
            perm[b : b + args.batch] for b in itertools.cycle(range(0, n - args.batch, args.batch))
        )
        fetch = lambda: (lambda i: (x[i], y[i], i))(next(batches))
    else:
        loader = DataLoader(TensorDataset(x, y, idx_all), batch_size=args.batch, shuffle=True)
        it = iter(())

        def fetch():
            nonlocal it
            try:
                return next(it)
            except StopIteration:
                it = iter(loader)
                return next(it)

    device = torch.device("cpu")

    def step():
        xb, yb, ib = fetch()
        xb = xb.contiguous(memory_format=fmt)
        with autocast(device, bf16):
            loss = F.cross_entropy(model(xb, ib, "unmuted").float(), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=float, default=1.0, help="channel multiplier (1.0: 64-512)")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--reps", type=int, default=3, help="interleaved rounds")
    ap.add_argument("--steps", type=int, default=3, help="timed steps per variant and round")
    ap.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "bench_vgg.json"
    )
    args = ap.parse_args()
    steps = {name: make_step(*v, args) for name, v in VARIANTS.items()}
    for s in steps.values():
        s()  # warm-up (oneDNN primitive creation)
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.reps):
        for name, s in steps.items():
            t = time.perf_counter()
            for _ in range(args.steps):
                s()
            times[name].append((time.perf_counter() - t) / args.steps)
    flop = conv_flop(args.width, args.batch)
    base = statistics.median(times[next(iter(times))])
    rows = []
    for name, ts in times.items():
        med = statistics.median(ts)
        rows.append(
            {"variant": name, "ms": med * 1e3, "speedup": base / med, "gflops": flop / med / 1e9}
        )
    print(
        f"VGG-11 (width {args.width}) with spatial turn-over dropout, batch {args.batch}, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}; "
        f"{flop / 1e9:.0f} GFLOP per step"
    )
    print(f"{'variant':38} {'ms/step':>9} {'speed-up':>9} {'GFLOP/s':>8}")
    for r in rows:
        print(f"{r['variant']:38} {r['ms']:9.0f} {r['speedup']:8.2f}x {r['gflops']:8.0f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "machine": machine(),
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "width": args.width,
        "batch": args.batch,
        "flop_per_step": flop,
        "times_s": times,
        "rows": rows,
    }
    args.out.write_text(json.dumps(result, indent=1))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
