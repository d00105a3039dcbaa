"""Command line: ``memlib run``, ``build``, ``score``, ``fz`` and ``localize``
(``python -m memlib``)."""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path

import yaml

from .config import ARCHS, CHUNK, RunConfig, ensemble_config
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
    _notebook_commands(sub)
    training = _training_options()
    s = sub.add_parser(
        "score",
        parents=[training],
        help="score every training example of a dataset",
        description="Train a turn-over-dropout model and write one CSV row per training "
        "example: index, label, corrupted, true_label, score, loss_unmuted, loss_muted, "
        "pred_unmuted, pred_muted. Cached: rerun to resume. Defaults: the paper's MNIST recipe.",
    )
    d = RunConfig()
    s.add_argument("--arch", default=d.arch, help=f"{', '.join(ARCHS)} ({d.arch})")
    s.add_argument("--width", type=float, default=d.width, help="vgg11/cct channel multiplier")
    s.add_argument("--milestones", type=int, nargs="*", default=[], help="epochs where lr / 10")
    s.add_argument("--channels-last", action="store_true", help="NHWC (convolutional models)")
    s.add_argument("--optimizer", default=d.optimizer, help=f"sgd or adamw ({d.optimizer})")
    s.add_argument(
        "--mask-last",
        type=int,
        help="vgg11: masks on its last K convolutions (default: the setting the book's "
        "CIFAR-10 pages use, selected on its conv-net page; 8 with --paper-masks)",
    )
    s.add_argument(
        "--mask-pairs",
        type=int,
        help="masks drawn from K complementary pairs (0: one per example; default: as "
        "--mask-last, for vgg11; 0 otherwise)",
    )
    s.add_argument(
        "--paper-masks",
        action="store_true",
        help="vgg11: the paper's design, a mask per example on every convolution",
    )
    s.add_argument("--augment", action="store_true", help="random flips and 4-pixel shifts")
    s.set_defaults(func=_score)
    f = sub.add_parser(
        "fz",
        parents=[training],
        help="Feldman-Zhang memorization estimates of every training example",
        description="Train K plain MLPs, each on a random fraction R of the training set, as "
        "vectorized ensembles (cached: rerun to resume), and write one CSV row per training "
        "example: index, label, corrupted, true_label, mem, se, ci_low, ci_high (95%, "
        "Agresti-Caffo), p_in, p_out, n_in, n_out.",
    )
    f.add_argument(
        "--n-models",
        "--models",
        type=int,
        required=True,
        help="number of models K (--models: its old name)",
    )
    f.add_argument("--fraction", type=float, default=0.7, help="share R each trains on (0.7)")
    f.add_argument("--chunk", type=int, default=CHUNK, help=f"models at once ({CHUNK})")
    f.add_argument("--jobs", type=int, default=1, help="chunks run in parallel (joblib)")
    f.add_argument("--arrays", type=Path, help="also write subsets, seeds, correctness (.npz)")
    f.set_defaults(func=_fz)
    _localize_command(sub)
    return p


def _localize_command(sub) -> None:
    """``localize``: example-tied dropout on a dataset (Maini et al. 2023, §6.2)."""
    from .localization import LocalizeConfig

    d = LocalizeConfig()
    loc = sub.add_parser(
        "localize",
        help="find the examples a network memorizes, by example-tied dropout",
        description="Train a ResNet-9 with example-tied dropout (Maini et al. 2023): every "
        "example owns a few memorization channels in each convolution block, beside the "
        "generalization channels all examples share. Then drop the memorization channels and "
        "write one CSV row per training example: index, label, corrupted, true_label, and the "
        "prediction and its correctness through the example's own channels (own), through "
        "every channel (full) and without the memorization channels (drop). An example right "
        "with them and wrong without was memorized. Cached: rerun to resume. Defaults: the "
        "paper's recipe, with no label noise.",
    )
    loc.add_argument(
        "--dataset",
        required=True,
        help="mnist, fashion-mnist, cifar10, or npz:PATH (x [N,...], y [N])",
    )
    loc.add_argument("--n-train", type=int, default=0, help="random training subset (0: all)")
    loc.add_argument(
        "--noise", type=float, default=0.0, help="share of labels redrawn to another class (0)"
    )
    loc.add_argument("--p-gen", type=float, default=0.4, help="generalization channels (0.4)")
    loc.add_argument("--p-mem", type=float, default=0.2, help="memorization share (0.2)")
    loc.add_argument("--width", type=float, default=d.width, help=f"channel multiplier ({d.width})")
    loc.add_argument("--epochs", type=int, default=d.epochs, help=f"training epochs ({d.epochs})")
    loc.add_argument(
        "--peak-epoch", type=int, default=d.peak_epoch, help=f"one-cycle peak ({d.peak_epoch})"
    )
    loc.add_argument("--lr", type=float, default=d.lr, help=f"peak learning rate ({d.lr})")
    loc.add_argument(
        "--batch-size", type=int, default=d.batch_size, help=f"mini-batch ({d.batch_size})"
    )
    loc.add_argument("--seed", type=int, default=0, help="seed of masks, labels, init, order (0)")
    loc.add_argument("--bf16", action="store_true", help="bf16 autocast (fast on AMX and GPUs)")
    loc.add_argument("--channels-last", action="store_true", help="NHWC memory format")
    loc.add_argument("--device", default=d.device, help="auto (default), cpu, cuda, cuda:N")
    loc.add_argument("--out", type=Path, required=True, help="CSV file to write")
    loc.add_argument("--quiet", action="store_true", help="no progress bar")
    loc.set_defaults(func=_localize)


def _notebook_commands(sub) -> None:
    """``run`` (one notebook) and ``build`` (the book, or one part of it)."""
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
    r.set_defaults(func=_execute)
    b = sub.add_parser(
        "build",
        help="execute the notebooks with a profile, then build the book",
        description="Execute the notebooks (papermill), all of them or one part's, and build "
        "the HTML book with Jupyter Book into _build/html.",
    )
    b.add_argument("--profile", default="cpu", help="smoke, cpu (default) or paper")
    b.add_argument("--part", help="execute only this part of the book (see _toc.yml)")
    b.add_argument(
        "--no-execute",
        action="store_true",
        help="build the HTML from the committed notebooks, unexecuted",
    )
    b.set_defaults(func=_build)


def _training_options() -> argparse.ArgumentParser:
    """The options ``score`` and ``fz`` share: data, recipe, seed, device, output. Defaults are
    ``RunConfig``'s (the paper's MNIST recipe)."""
    d = RunConfig()
    t = argparse.ArgumentParser(add_help=False)
    t.add_argument(
        "--dataset",
        required=True,
        help="mnist, fashion-mnist, cifar10, or npz:PATH (x [N,...], y [N])",
    )
    t.add_argument("--n-train", type=int, default=d.n_train, help="random training subset (0: all)")
    t.add_argument(
        "--n-corrupt",
        "--corrupt",
        type=int,
        default=d.n_corrupt,
        help="training examples given a random label (0; --corrupt: its old name)",
    )
    t.add_argument(
        "--label-noise",
        default=d.label_noise,
        help="other (a random label is another class) or uniform (any class)",
    )
    t.add_argument("--epochs", type=int, default=d.epochs, help=f"training epochs ({d.epochs})")
    t.add_argument("--hidden", type=int, default=d.hidden, help=f"MLP hidden units ({d.hidden})")
    t.add_argument("--lr", type=float, default=d.lr, help=f"learning rate ({d.lr})")
    t.add_argument(
        "--momentum", type=float, default=d.momentum, help=f"SGD momentum ({d.momentum})"
    )
    t.add_argument(
        "--batch-size", type=int, default=d.batch_size, help=f"mini-batch ({d.batch_size})"
    )
    t.add_argument("--seed", type=int, default=0, help="seed of masks, labels, init, order (0)")
    t.add_argument("--bf16", action="store_true", help="bf16 autocast (fast on AMX and GPUs)")
    t.add_argument("--device", default=d.device, help="auto (default), cpu, cuda, cuda:N")
    t.add_argument("--out", type=Path, required=True, help="CSV file to write")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    return t


def _execute(args) -> None:
    from .runner import execute_notebook

    overrides = {k: yaml.safe_load(v) for k, v in args.param}
    print(execute_notebook(args.notebook, args.profile, args.out, overrides))


def _build(args) -> None:
    from .runner import build

    print(build(args.profile, execute=not args.no_execute, part=args.part))


def _config(args, **fields) -> RunConfig:
    """The RunConfig of ``score`` and ``fz``: their shared options, plus ``fields``."""
    shared = (
        "dataset",
        "n_train",
        "n_corrupt",
        "label_noise",
        "epochs",
        "hidden",
        "momentum",
        "lr",
        "batch_size",
        "bf16",
        "device",
    )
    return RunConfig(**{k: getattr(args, k) for k in shared}, **fields).with_seed(args.seed)


def _score(args) -> None:
    from .runs import score_run

    masks = _mask_design(args)
    cfg = _config(
        args,
        arch=args.arch,
        width=args.width,
        milestones=tuple(args.milestones),
        channels_last=args.channels_last,
        optimizer=args.optimizer,
        augment=args.augment,
        **masks,
    )
    out = _checked(cfg, args.out)
    if cfg.arch == "vgg11":
        _warn_if_unreliable(cfg)
    _write_csv(score_run(cfg, progress=not args.quiet).table, out)


def _mask_design(args) -> dict:
    """The mask settings of ``score``: those given, else for vgg11 the CIFAR-10 pages' setting
    (the cpu profile's Figure 5(c,d)), or the paper's design with ``--paper-masks``."""
    given = {"mask_last": args.mask_last, "mask_pairs": args.mask_pairs}
    if args.arch != "vgg11":
        return {k: v for k, v in given.items() if v is not None}
    if args.paper_masks:
        default = {"mask_last": 8, "mask_pairs": 0}
    else:
        from .params import load_profile

        page = load_profile("cpu")["fig5cd_easy_difficult_cifar"]
        default = {k: page.get(k, getattr(RunConfig(), k)) for k in given}
    return {k: default[k] if v is None else v for k, v in given.items()}


def _warn_if_unreliable(cfg: RunConfig) -> None:
    """One line on stderr when the book measured this VGG-11 mask design below a working
    estimator's planted-label AUC (its conv-net page), or never measured it."""
    from .book import measured_design

    found = measured_design(cfg)
    if found is None:
        print(
            "memlib: warning: this VGG-11 mask design was not validated on planted random "
            "labels (see the book's page 'When do turn-over scores work on a conv net?')",
            file=sys.stderr,
        )
    elif not found["works"]:
        print(
            f"memlib: warning: scores of this VGG-11 mask design are unreliable: on the book's "
            f"conv-net page it ranks planted random labels with an ROC-AUC of {found['auc']} "
            f"(a working estimator: {found['target']})",
            file=sys.stderr,
        )


def _fz(args) -> None:
    from .groundtruth import fz_run

    cfg = ensemble_config(_config(args), args.n_models, args.fraction, args.chunk)
    out = _checked(cfg, args.out)
    arrays = args.arrays and _writable(args.arrays)
    run = fz_run(
        cfg,
        args.n_models,
        args.fraction,
        chunk=args.chunk,
        n_jobs=args.jobs,
        progress=not args.quiet,
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


def _localize(args) -> None:
    from .data import load_dataset
    from .localization import LocalizeConfig
    from .localization.resnet import WIDTHS
    from .tied import DropoutConfig, channel_split, tied_run

    out = _writable(args.out)
    names = ("dataset", "n_train", "noise", "width", "epochs", "peak_epoch", "lr", "batch_size",
             "bf16", "channels_last", "device")  # fmt: skip
    cfg = LocalizeConfig(**{k: getattr(args, k) for k in names}).with_seed(args.seed)
    dcfg = DropoutConfig(p_gen=args.p_gen, p_mem=args.p_mem).with_seed(args.seed)
    data = load_dataset(cfg.dataset)  # fails now on missing or malformed data
    cfg.data_config(data.n_train).check_fits(data.n_train)
    if min(data.input_shape[1:]) < 12:
        raise MemlibError(
            f"images of {'x'.join(map(str, data.input_shape[1:]))} pixels are too small for "
            "ResNet-9, which needs at least 12x12"
        )
    channel_split(min(max(1, round(c * cfg.width)) for c in WIDTHS), dcfg.p_gen, dcfg.p_mem)
    run = tied_run(cfg, dcfg, progress=not args.quiet)
    t, acc = run.table(), run.accuracies()
    extra = [f"{k}_{m}" for k in ("pred", "correct") for m in ("drop_paper", "drop_unscaled")]
    _write_csv(t.drop(columns=extra), out)
    test = "" if math.isnan(acc["test_full"]) else (
        f"; test accuracy {acc['test_full']:.3f} with every channel, {acc['test_drop']:.3f} "
        "without them")  # fmt: skip
    lost = int((t.correct_own & ~t.correct_drop).sum())
    print(f"memlib: {lost} of {len(t)} examples are right through their own channels and wrong "
          f"without them{test}", file=sys.stderr)  # fmt: skip


def _checked(cfg, out: Path) -> Path:
    """The input checks of ``score`` and ``fz``: a writable --out, and data that loads and has
    room for --n-corrupt and --n-train; all before any training."""
    from .data import load_dataset

    out = _writable(out)
    cfg.check_fits(load_dataset(cfg.dataset).n_train)  # fails now on missing or malformed data
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
