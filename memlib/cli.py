"""Command line: ``memlib run``, ``memlib build``, ``memlib score`` (``python -m memlib``)."""

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
    return p


def _run(args) -> None:
    from .runner import run

    overrides = {k: yaml.safe_load(v) for k, v in args.param}
    print(run(args.notebook, args.profile, args.out, overrides))


def _build(args) -> None:
    from .runner import build

    print(build(args.profile, execute=not args.no_execute))


def _score(args) -> None:
    from .config import RunConfig
    from .data import load_dataset
    from .experiment import score_run

    cfg = RunConfig(
        dataset=args.dataset,
        corrupt=args.corrupt,
        epochs=args.epochs,
        arch=args.arch,
        hidden=args.hidden,
        width=args.width,
        momentum=args.momentum,
        milestones=tuple(args.milestones),
        channels_last=args.channels_last,
        lr=args.lr,
        batch_size=args.batch_size,
        bf16=args.bf16,
        device=args.device,
    ).with_seed(args.seed)
    out = _writable(args.out)
    n = load_dataset(cfg.dataset).n_train  # fails now on missing or malformed data
    if cfg.corrupt > n:
        raise MemlibError(f"--corrupt {cfg.corrupt} is larger than the {n} training examples")
    table = score_run(cfg, progress=not args.quiet).table
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
