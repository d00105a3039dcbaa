"""Command line: ``memlib run``, ``build``, ``score`` and ``fz`` (``python -m memlib``)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import yaml

from .errors import MemlibError


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except MemlibError as e:
        print(f"memlib: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("memlib: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="memlib",
        description="Memorization scores by turn-over "
        "dropout (Liu, Lin & Jaggi 2021): notebooks, book and scoring.",
    )
    sub = p.add_subparsers(required=True, metavar="COMMAND")

    r = sub.add_parser(
        "run",
        help="execute one notebook with a profile (papermill)",
        description="Execute notebooks/NOTEBOOK.ipynb with a profile's "
        "parameters. smoke writes back into notebooks/, cpu and paper into book/.",
    )
    r.add_argument("notebook", help="notebook name, e.g. fig2a_long_tail")
    r.add_argument("--profile", default="cpu", help="smoke, cpu (default) or paper")
    r.add_argument("--out", type=Path, help="output notebook (default: see above)")
    r.add_argument(
        "-p",
        "--param",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="override a parameter (YAML value)",
    )
    r.set_defaults(func=_run)

    b = sub.add_parser(
        "build",
        help="execute every notebook with a profile, then build the book",
        description="Execute all notebooks (papermill) and build the HTML book "
        "with Jupyter Book into _build/html.",
    )
    b.add_argument("--profile", default="cpu", help="smoke, cpu (default) or paper")
    b.add_argument(
        "--no-execute",
        action="store_true",
        help="build the HTML from the committed notebooks without executing them",
    )
    b.set_defaults(func=_build)

    s = sub.add_parser(
        "score",
        help="score every training example of a dataset",
        description="Train the turn-over-dropout MLP and write one CSV row per "
        "training example: index, label, corrupted, true_label, score, "
        "loss_unmuted, loss_muted, pred_unmuted, pred_muted.",
    )
    s.add_argument(
        "--dataset",
        required=True,
        help="mnist, fashion-mnist, cifar10, or npz:PATH (arrays x [N,...], y [N])",
    )
    s.add_argument("--corrupt", type=int, default=0, help="random labels to inject (default 0)")
    s.add_argument(
        "--label-noise",
        default="other",
        choices=("other", "uniform"),
        help="a random label is another class (default) or any class",
    )
    s.add_argument("--epochs", type=int, default=20, help="training epochs (default 20)")
    s.add_argument("--arch", default="mlp", help="mlp (default), vgg11 or cct")
    s.add_argument("--hidden", type=int, default=4096, help="hidden units (default 4096)")
    s.add_argument("--width", type=float, default=1.0, help="vgg11/cct channel multiplier")
    s.add_argument("--momentum", type=float, default=0.0, help="SGD momentum (default 0)")
    s.add_argument(
        "--milestones", type=int, nargs="*", default=[], help="epochs where the lr drops 10x"
    )
    s.add_argument("--channels-last", action="store_true", help="NHWC (convolutional models)")
    s.add_argument("--lr", type=float, default=0.06, help="SGD learning rate (default 0.06)")
    s.add_argument("--batch-size", type=int, default=256, help="mini-batch (default 256)")
    s.add_argument("--seed", type=int, default=0, help="seed of masks, labels, init, order")
    s.add_argument("--bf16", action="store_true", help="bf16 autocast (fast on AMX and GPUs)")
    s.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N")
    s.add_argument("--out", type=Path, required=True, help="CSV file to write")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=_score)

    f = sub.add_parser(
        "fz",
        help="Feldman-Zhang memorization estimates of every training example",
        description="Train K plain MLPs, each on a random fraction R of the training set, as "
        "vectorized ensembles (cached: rerun to resume), and write one CSV row per training "
        "example: index, label, corrupted, true_label, mem, se, ci_low, ci_high (95%, "
        "Agresti-Caffo), p_in, p_out, n_in, n_out.",
    )
    f.add_argument("--dataset", required=True, help="mnist, fashion-mnist, cifar10, or npz:PATH")
    f.add_argument("--models", type=int, required=True, help="number of models K")
    f.add_argument("--fraction", type=float, default=0.7, help="share R each trains on (0.7)")
    f.add_argument("--epochs", type=int, default=20, help="training epochs (default 20)")
    f.add_argument("--corrupt", type=int, default=0, help="random labels to inject (default 0)")
    f.add_argument(
        "--label-noise",
        default="other",
        choices=("other", "uniform"),
        help="a random label is another class (default) or any class",
    )
    f.add_argument("--n-train", type=int, default=0, help="random training subset (0 = all)")
    f.add_argument("--hidden", type=int, default=4096, help="hidden units (default 4096)")
    f.add_argument("--lr", type=float, default=0.06, help="SGD learning rate (default 0.06)")
    f.add_argument("--momentum", type=float, default=0.0, help="SGD momentum (default 0)")
    f.add_argument("--batch-size", type=int, default=256, help="mini-batch (default 256)")
    f.add_argument("--seed", type=int, default=0, help="seed of subsets, labels, init, order")
    f.add_argument("--bf16", action="store_true", help="bf16 autocast (fast on AMX and GPUs)")
    f.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N")
    f.add_argument("--chunk", type=int, default=16, help="models trained at once (default 16)")
    f.add_argument("--jobs", type=int, default=1, help="chunks run in parallel (joblib)")
    f.add_argument("--arrays", type=Path, help="also write subsets, seeds, correctness (.npz)")
    f.add_argument("--out", type=Path, required=True, help="CSV file to write")
    f.add_argument("--quiet", action="store_true", help="no progress bar")
    f.set_defaults(func=_fz)
    return p


def _run(args) -> None:
    from .runner import run

    overrides = {k: yaml.safe_load(v) for k, v in args.param}
    print(run(args.notebook, args.profile, args.out, overrides))


def _build(args) -> None:
    from .runner import build

    print(build(args.profile, execute=not args.no_execute))


def _config(args, **fields):
    """The RunConfig of ``score`` and ``fz``: their shared options, plus ``fields``."""
    from .config import RunConfig

    shared = (
        "dataset",
        "corrupt",
        "label_noise",
        "epochs",
        "hidden",
        "momentum",
        "lr",
        "batch_size",
        "bf16",
    )
    return RunConfig(
        **{k: getattr(args, k) for k in shared}, device=args.device, **fields
    ).with_seed(args.seed)


def _score(args) -> None:
    from .experiment import score_run

    cfg = _config(
        args,
        arch=args.arch,
        width=args.width,
        milestones=tuple(args.milestones),
        channels_last=args.channels_last,
    )
    out = _checked(cfg, args.out)
    _write_csv(score_run(cfg, progress=not args.quiet).table, out)


def _fz(args) -> None:
    from .groundtruth import check_fz, fz_run

    cfg = _config(args, n_train=args.n_train, turnover=False)
    check_fz(args.models, args.fraction, args.chunk)
    out = _checked(cfg, args.out)
    arrays = args.arrays and _writable(args.arrays)
    run = fz_run(
        cfg, args.models, args.fraction, chunk=args.chunk, n_jobs=args.jobs, progress=not args.quiet
    )
    _write_csv(run.scores(), out)
    if arrays:
        import numpy as np

        seeds = run.seeds
        np.savez_compressed(
            arrays,
            members=run.members,
            correct=run.correct,
            test_correct=run.test_correct,
            **{f"seed_{k}": seeds[k].to_numpy() for k in ("subset", "init", "order")},
        )
        print(
            f"memlib: wrote the {run.k} models' subsets, seeds and correctness to {arrays}",
            file=sys.stderr,
        )


def _checked(cfg, out: Path) -> Path:
    """The input checks of ``score`` and ``fz``: a writable --out, and data that loads and has
    room for --corrupt and --n-train; all before any training."""
    from .data import load_dataset

    out = _writable(out)
    n = load_dataset(cfg.dataset).n_train  # fails now on missing or malformed data
    if cfg.n_train > n:
        raise MemlibError(f"--n-train {cfg.n_train} is larger than the {n} training examples")
    if cfg.corrupt > (cfg.n_train or n):
        raise MemlibError(
            f"--corrupt {cfg.corrupt} is larger than the {cfg.n_train or n} training examples"
        )
    return out


def _write_csv(table, out: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            table.to_csv(f, index=False, float_format="%.6g")
        os.replace(tmp, out)  # all or nothing: no half-written CSV
    finally:
        Path(tmp).unlink(missing_ok=True)
    print(f"memlib: wrote {len(table)} rows to {out}", file=sys.stderr)


def _writable(out: Path) -> Path:
    out = out.expanduser().resolve()
    if out.is_dir():
        raise MemlibError(f"--out {out} is a directory; give a file name such as scores.csv")
    if not out.parent.is_dir():
        raise MemlibError(f"--out {out}: folder {out.parent} does not exist")
    if not os.access(out.parent, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise MemlibError(f"--out {out} is not writable")
    return out


if __name__ == "__main__":
    sys.exit(main())
