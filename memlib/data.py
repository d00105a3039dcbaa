"""Datasets as tensors resident on the training device.

``load_dataset`` reads MNIST, Fashion-MNIST or CIFAR-10 through torchvision, or a user's ``.npz``
file, once, into a :class:`Dataset` of float tensors. Subsets are index or boolean masks over it.

The data root is ``$MEMLIB_DATA`` if set, else ``data/`` under the project (or the working
directory). CIFAR-10 is read from the canonical ``cifar-10-batches-py`` files when present, else
from the image-folder copy ``<root>/CIFAR10-jpeg/{train,test}/<class>/`` (a lossy JPEG
re-encoding); ``Dataset.source`` says which, and every result carries it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .errors import MemlibError

DATASETS = ("mnist", "fashion-mnist", "cifar10")
LABEL_NOISE = ("other", "uniform")  # how corrupt_labels draws a random label
_TV_NAMES = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "cifar10": "CIFAR10"}


class DatasetNotFound(MemlibError):
    pass


@dataclass(frozen=True)
class Dataset:
    """A classification dataset as tensors.

    x_train [N, C, H, W] float32, standardized with the training set's per-channel statistics;
    y_train [N] int64, the labels trained on (possibly corrupted); true_y_train [N] the original
    labels; corrupted [N] bool, the examples whose label was redrawn (with uniform label noise,
    about 1 in n_classes of them drew their true label again). Test tensors likewise (possibly
    empty, for an npz).
    """

    name: str
    source: str  # where the pixels came from, stated on every page that uses them
    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    true_y_train: Tensor
    corrupted: Tensor
    n_classes: int

    @property
    def n_train(self) -> int:
        return self.x_train.shape[0]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def to(self, device: torch.device | str) -> Dataset:
        t = {
            k: getattr(self, k).to(device)
            for k in ("x_train", "y_train", "x_test", "y_test", "true_y_train", "corrupted")
        }
        return replace(self, **t)

    def channels_last(self) -> Dataset:
        """The same data with images in NHWC memory format (faster convolutions on the CPU)."""
        fmt = torch.channels_last
        if self.x_train.dim() != 4:
            return self
        return replace(
            self,
            x_train=self.x_train.contiguous(memory_format=fmt),
            x_test=self.x_test.contiguous(memory_format=fmt),
        )


def flip_shift(x: Tensor, gen: torch.Generator, pad: int = 4) -> Tensor:
    """The standard CIFAR augmentation on a batch [B, C, H, W]: each image flipped left-right
    with probability 1/2, then shifted by up to ``pad`` pixels in each direction (a random crop
    of the image zero-padded by ``pad``; zero is the mean after standardization). The draws
    come from ``gen`` (CPU); the result keeps ``x``'s device and memory format."""
    b, _, h, w = x.shape
    flip = (torch.rand(b, generator=gen) < 0.5).to(x.device)
    dy, dx = (torch.randint(0, 2 * pad + 1, (b,), generator=gen).to(x.device) for _ in "yx")
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    xp = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    rows = torch.arange(h, device=x.device) + dy[:, None]  # [B, H]
    cols = torch.arange(w, device=x.device) + dx[:, None]  # [B, W]
    out = xp[torch.arange(b, device=x.device)[:, None, None], :, rows[:, :, None], cols[:, None]]
    fmt = torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) else None
    out = out.permute(0, 3, 1, 2)  # [B, H, W, C] -> [B, C, H, W]
    return out.contiguous(memory_format=fmt or torch.contiguous_format)


def data_root() -> Path:
    if os.environ.get("MEMLIB_DATA"):
        return Path(os.environ["MEMLIB_DATA"]).expanduser()
    from .results import project_root

    return project_root() / "data"


def corrupt_labels(
    y: Tensor, n: int, n_classes: int, seed: int, noise: str = "other"
) -> tuple[Tensor, Tensor]:
    """Redraw the labels of ``n`` examples, chosen uniformly without replacement.

    ``noise="other"`` gives each a uniformly random *other* label: every corrupted label differs
    from the true one, so a model that predicts the true classes scores 0% on them, not 10%.
    ``noise="uniform"`` draws the new label uniformly from all classes, the true one included
    (about 1 in ``n_classes`` keeps its label). Returns ``(y_new [N], idx [n])``: the redrawn
    indices, sorted.
    """
    if not 0 <= n <= len(y):
        raise MemlibError(f"cannot corrupt {n} labels of a dataset of {len(y)} examples")
    if noise not in LABEL_NOISE:
        raise MemlibError(f"bad label noise {noise!r}: one of {', '.join(LABEL_NOISE)}")
    if n and noise == "other" and n_classes < 2:
        raise MemlibError(f"cannot give {n} examples another label: there is one class only")
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(y), generator=g)[:n].sort().values
    y_new = y.clone()
    if n == 0:
        return y_new, idx
    if noise == "other":
        shift = torch.randint(1, n_classes, (n,), generator=g)  # 1..C-1: never the true label
        y_new[idx] = (y[idx].cpu() + shift).remainder(n_classes).to(y.device)
    else:
        y_new[idx] = torch.randint(0, n_classes, (n,), generator=g).to(y.device)
    return y_new, idx


def subset_indices(n_total: int, n_train: int, seed: int) -> Tensor:
    """The sorted indices of the random ``n_train`` examples that ``load_dataset`` keeps."""
    keep = torch.randperm(n_total, generator=torch.Generator().manual_seed(seed))
    return keep[:n_train].sort().values


def load_dataset(
    name: str,
    *,
    n_corrupt: int = 0,
    corrupt_seed: int = 0,
    label_noise: str = "other",
    n_train: int = 0,
    subset_seed: int = 0,
    split: str = "train",
    device: str | torch.device = "cpu",
    root: Path | None = None,
    download: bool | None = None,
) -> Dataset:
    """Load ``name`` (one of DATASETS, or ``npz:PATH``) onto ``device``.

    n_train > 0 keeps a random subset of that many training examples (seeded by subset_seed,
    sorted, re-indexed 0..n_train-1). n_corrupt > 0 then redraws that many labels (corrupt_labels,
    with ``label_noise``: "other" or "uniform").
    split="test" swaps the two splits: the model trains on the test set (to score its examples).
    download: None tries torchvision's download unless $MEMLIB_OFFLINE is set.
    """
    if split not in ("train", "test"):
        raise MemlibError(f"bad split {split!r}: train or test")
    if name.startswith("npz:"):
        xtr, ytr, xte, yte, source = _load_npz(Path(name[4:]))
    elif name in DATASETS:
        xtr, ytr, xte, yte, source = _load_torchvision(name, root or data_root(), download)
    else:
        raise MemlibError(
            f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)} or npz:PATH"
        )
    if split == "test":
        xtr, ytr, xte, yte = xte, yte, xtr, ytr
    n_classes = int(max(ytr.max(), yte.max() if len(yte) else 0)) + 1  # before any subset
    if n_train:
        if not 0 < n_train <= len(ytr):
            raise MemlibError(f"n_train={n_train} but {name} has {len(ytr)} training examples")
        keep = subset_indices(len(ytr), n_train, subset_seed)
        xtr, ytr = xtr[keep], ytr[keep]
    y_used, idx = corrupt_labels(ytr, n_corrupt, n_classes, corrupt_seed, label_noise)
    corrupted = torch.zeros(len(ytr), dtype=torch.bool)
    corrupted[idx] = True
    mean, std = _channel_stats(xtr)
    norm = lambda x: ((x - mean) / std).contiguous()
    return Dataset(
        name=name,
        source=source,
        x_train=norm(xtr),
        y_train=y_used,
        x_test=norm(xte),
        y_test=yte,
        true_y_train=ytr,
        corrupted=corrupted,
        n_classes=n_classes,
    ).to(device)


def _channel_stats(x: Tensor) -> tuple[Tensor, Tensor]:
    dims = [0] + list(range(2, x.dim()))
    shape = [1, -1] + [1] * (x.dim() - 2)
    mean, std = x.mean(dims), x.std(dims).clamp_min(1e-6)
    return mean.reshape(shape), std.reshape(shape)


def _to_float(x: np.ndarray | Tensor) -> Tensor:
    """uint8 images [N, H, W] or [N, H, W, C] -> float32 [N, C, H, W] in [0, 1]."""
    x = torch.as_tensor(np.asarray(x))
    if x.dim() == 3:
        x = x.unsqueeze(1)
    elif x.dim() == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.permute(0, 3, 1, 2)
    return x.float().div(255.0) if x.dtype == torch.uint8 else x.float()


def _missing(name: str, looked: list[Path]) -> DatasetNotFound:
    where = ", ".join(str(p) for p in looked)
    return DatasetNotFound(
        f"dataset {name!r} not found (looked in {where}) and it could not be downloaded; "
        "set MEMLIB_DATA to a folder laid out for torchvision (e.g. ../shared/datasets) "
        "or run once with network access"
    )


def _load_torchvision(name: str, root: Path, download: bool | None):
    import torchvision.datasets as tvd

    if download is None:
        download = not os.environ.get("MEMLIB_OFFLINE")
    if name == "cifar10":
        return _load_cifar10(root, download)
    cls = getattr(tvd, _TV_NAMES[name])
    splits = []
    for train in (True, False):
        try:
            ds = cls(root=str(root), train=train, download=False)
        except RuntimeError:
            if not download:
                raise _missing(name, [root / _TV_NAMES[name]]) from None
            try:
                ds = cls(root=str(root), train=train, download=True)
            except Exception:
                raise _missing(name, [root / _TV_NAMES[name]]) from None
        splits += [_to_float(ds.data), ds.targets.clone().long()]
    return (*splits, f"torchvision {_TV_NAMES[name]} (canonical idx files)")


def _load_cifar10(root: Path, download: bool):
    import torchvision.datasets as tvd

    try:
        tr = tvd.CIFAR10(str(root), train=True, download=False)
        te = tvd.CIFAR10(str(root), train=False, download=False)
        source = "torchvision CIFAR10 (canonical pickles)"
    except RuntimeError:
        jpeg = root / "CIFAR10-jpeg"
        if (jpeg / "train").is_dir() and (jpeg / "test").is_dir():
            tr, te = _image_folder(jpeg / "train"), _image_folder(jpeg / "test")
            return (
                *tr,
                *te,
                "CIFAR10-jpeg image-folder copy (lossy JPEG re-encoding, "
                "not the canonical pickles)",
            )
        if not download:
            raise _missing("cifar10", [root / "cifar-10-batches-py", jpeg]) from None
        try:
            tr = tvd.CIFAR10(str(root), train=True, download=True)
            te = tvd.CIFAR10(str(root), train=False, download=True)
            source = "torchvision CIFAR10 (canonical pickles, downloaded)"
        except Exception:
            raise _missing("cifar10", [root / "cifar-10-batches-py", jpeg]) from None
    return (
        _to_float(tr.data),
        torch.tensor(tr.targets),
        _to_float(te.data),
        torch.tensor(te.targets),
        source,
    )


def _image_folder(path: Path) -> tuple[Tensor, Tensor]:
    """Decode an ImageFolder once and keep it as uint8 arrays in the result cache."""
    from .results import cache_root

    cached = cache_root() / "decoded" / f"{path.parent.name}-{path.name}.npz"
    try:
        with np.load(cached) as f:
            return _to_float(f["x"]), torch.as_tensor(f["y"]).long()
    except Exception:
        pass
    import torchvision.datasets as tvd

    ds = tvd.ImageFolder(str(path))
    x = np.stack([np.asarray(ds.loader(p).convert("RGB")) for p, _ in ds.samples])
    y = np.asarray(ds.targets, dtype=np.int64)
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(".tmp.npz")
    np.savez(tmp, x=x, y=y)
    os.replace(tmp, cached)
    return _to_float(x), torch.as_tensor(y)


def _load_npz(path: Path):
    """A user's dataset: arrays ``x`` [N, ...] (uint8 or float) and ``y`` [N] (int)."""
    if not path.is_file():
        raise MemlibError(f"npz file {str(path)!r} does not exist")
    try:
        with np.load(path, allow_pickle=False) as f:
            if "x" not in f or "y" not in f:
                raise MemlibError(
                    f"{path} must hold arrays 'x' [N, ...] and 'y' [N]; it holds {sorted(f.keys())}"
                )
            x, y = f["x"], f["y"]
    except MemlibError:
        raise
    except Exception as e:
        raise MemlibError(f"cannot read {path} as an npz file: {e}") from None
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise MemlibError(f"{path}: 'y' must be a 1-D integer array, got {y.dtype} {y.shape}")
    if x.ndim < 2 or len(x) != len(y) or len(y) == 0:
        raise MemlibError(
            f"{path}: 'x' must be [N, ...] with N = len(y) = {len(y)} > 0, got {x.shape}"
        )
    if not (x.dtype == np.uint8 or np.issubdtype(x.dtype, np.floating)):
        raise MemlibError(f"{path}: 'x' must be uint8 or float, got {x.dtype}")
    if y.min() < 0 or y.max() >= len(y):
        raise MemlibError(
            f"{path}: labels must be class indices 0..C-1 with C <= len(y) = {len(y)}, "
            f"got {y.min()}..{y.max()}"
        )
    x = _to_float(x) if x.ndim >= 3 else torch.as_tensor(x).float().reshape(len(x), 1, 1, -1)
    empty = torch.zeros((0, *x.shape[1:]))
    return x, torch.as_tensor(y).long(), empty, torch.zeros(0, dtype=torch.long), f"npz {path}"
