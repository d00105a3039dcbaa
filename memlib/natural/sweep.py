"""The Feldman-Zhang estimator on one model family and size, with every member's correctness on
every training and test example at every epoch.

``k`` members each train on a random ``fraction`` of the training set. A run is ``k / chunk``
chunks, each an ensemble (:mod:`.ensemble`) cached on its own under ``.cache/natural-chunk/``
and checkpointed after every epoch: an interrupted chunk resumes at its last epoch, and a larger
``k`` reuses the chunks a smaller one trained. Chunks are independent joblib jobs: processes on
one machine (one torch thread each), or a Dask cluster under
``joblib.parallel_config(backend="dask")``. What a job receives is the run's spec and its member
range only: it loads the data itself and checks the code version it runs against the one the
caller expects, so a worker on other code fails instead of caching a mislabeled result.

Correctness is stored as bits, ``[epochs + 1, members, (n_train + n_test) / 8]`` uint8 (epoch 0
is the initialization): a chunk of 64 members, 1,000 + 1,000 examples and 20 epochs holds 336 kB.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import joblib
import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from ..checkpoint import load_checkpoint, save_atomic
from ..config import describe_device, resolve_device
from ..errors import MemlibError
from ..groundtruth import fz_estimate, subset_mask
from ..masks import hash32
from ..results import Computed, Result
from . import cached, code_version, data, ensemble, nets

# Salts of the members' seed streams (subset, initialization, data order).
_SUBSET, _INIT, _ORDER = 0x5B5E7B, 0x1417AB, 0x0D3E56


@dataclass(frozen=True)
class RunSpec:
    """One estimator run: the training set, the model and its recipe, the members' seeds."""

    data: data.DataSpec
    family: str  # a key of nets.FAMILIES
    width: int
    recipe: ensemble.Recipe
    fraction: float = 0.7  # each member trains on this random share of the training set
    subset_seed: int = 0  # the members' training subsets
    init_seed: int = 0  # their initializations
    order_seed: int = 0  # their data orders
    device: str = "cpu"

    def __post_init__(self):
        nets.build(self.family, self.width, (1, 4, 4), 2)  # fails on a bad family or width
        if not 0 < self.fraction < 1:
            raise MemlibError(f"bad fraction={self.fraction}: in (0, 1)")

    def key(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("device")
        return d

    def label(self) -> str:
        return f"{self.family}-{self.width}"


def member_seeds(spec: RunSpec, j: int) -> dict[str, int]:
    """Member ``j``'s three seeds, each from its own stream."""
    mix = lambda seed, salt: hash32((hash32(seed ^ salt) + j) & 0xFFFFFFFF)
    return {"subset": mix(spec.subset_seed, _SUBSET), "init": mix(spec.init_seed, _INIT),
            "order": mix(spec.order_seed, _ORDER)}  # fmt: skip


@functools.lru_cache(maxsize=4)
def trainset(spec: data.DataSpec, device: str = "cpu") -> data.TrainSet:
    """The training set of ``spec``, built once per process and device (never written to)."""
    return data.build(spec, device)


def run(
    spec: RunSpec,
    n_models: int,
    *,
    chunk: int = 64,
    n_jobs: int = 1,
    profile: str = "",
    progress: bool = True,
) -> Sweep:
    """Train (or load) ``n_models`` members of ``spec`` in chunks of ``chunk`` and merge them.

    ``n_jobs`` > 1 runs chunks in parallel through joblib's current backend (processes by
    default, each with one torch thread; a Dask cluster under ``joblib.parallel_config``)."""
    if n_models < 2 or chunk < 1:
        raise MemlibError(f"bad n_models={n_models} or chunk={chunk}: at least 2 and 1")
    starts = list(range(0, n_models, chunk))
    threads = 1 if n_jobs != 1 else torch.get_num_threads()
    expect = code_version()
    jobs = (joblib.delayed(_chunk)(spec, a, min(a + chunk, n_models), profile, threads, expect)
            for a in starts)  # fmt: skip
    out = joblib.Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
    bar = tqdm(out, total=len(starts), desc=f"{spec.label()} × {n_models}", unit="chunk",
               disable=not progress)  # fmt: skip
    return Sweep(spec, list(bar), trainset(spec.data))


def _chunk(spec: RunSpec, start: int, stop: int, profile: str, threads: int, expect: str) -> Result:
    """Members ``start`` to ``stop`` - 1, as one cached, resumable ensemble."""
    if code_version() != expect:
        raise MemlibError(f"this worker runs memlib code {code_version()}, the caller {expect}: "
                          "install the same memlib on every worker")  # fmt: skip
    torch.set_num_threads(threads)
    device = resolve_device(spec.device)
    meta = {"profile": profile, "device": describe_device(device)}
    key = spec.key() | {"members": [start, stop]}
    compute = lambda folder: _train(spec, range(start, stop), device, folder)
    return cached("chunk", key, compute, meta=meta)


def _train(spec: RunSpec, js: range, device, folder) -> Computed:
    ts = trainset(spec.data, str(device))
    n, t = len(ts.y_train), len(ts.y_test)
    seeds = [member_seeds(spec, j) for j in js]
    masks = np.stack([subset_mask(n, round(spec.fraction * n), s["subset"]) for s in seeds])
    shape = tuple(ts.x_train.shape[1:])
    mods = ensemble.members(
        spec.family, spec.width, shape, ts.n_classes, [s["init"] for s in seeds]
    )
    net = ensemble.Stacked(mods).to(device)
    x_all, y_all = torch.cat([ts.x_train, ts.x_test]), torch.cat([ts.y_train, ts.y_test])
    ckpt = folder / "checkpoint.pt"
    state = load_checkpoint(ckpt, device, ("epoch", "net", "momenta", "records"))
    if state is not None:
        net.load_state_dict(state["net"])
    records = list(state["records"]) if state else []

    def record(epoch: int, momenta) -> None:
        correct = (net.predict(x_all) == y_all).cpu().numpy()
        records.append(torch.from_numpy(np.packbits(correct, axis=1)))
        if momenta is not None:
            save_atomic({"epoch": epoch, "net": net.state_dict(), "momenta": momenta,
                         "records": records}, ckpt)  # fmt: skip

    if not records:
        record(0, None)  # the initialization
    owned = torch.as_tensor(np.stack([np.flatnonzero(m) for m in masks]), device=device)
    ensemble.train(net, ts.x_train, ts.y_train, owned, [s["order"] for s in seeds], spec.recipe,
                   start_epoch=state["epoch"] + 1 if state else 1,
                   momenta=state["momenta"] if state else None, on_epoch=record)  # fmt: skip
    bits = torch.stack(records).numpy()  # [E + 1, M, bytes]
    correct = np.unpackbits(bits, axis=2, count=n + t).astype(bool)
    history = _accuracies(correct[:, :, :n], correct[:, :, n:], masks, js)
    arrays = {"members": np.packbits(masks, axis=1), "correct": bits,
              "n_train": np.array(n), "n_test": np.array(t)}  # fmt: skip
    return Computed(history, arrays, {"source": ts.source})


def _accuracies(train_c, test_c, masks, js) -> pd.DataFrame:
    """One row per epoch and member: accuracy on its own subset, on the rest, on the test set."""
    e, m = train_c.shape[:2]
    acc_in = (train_c & masks).sum(2) / masks.sum(1)
    acc_out = (train_c & ~masks).sum(2) / np.maximum((~masks).sum(1), 1)
    return pd.DataFrame({
        "epoch": np.repeat(np.arange(e), m), "member": np.tile(np.asarray(js), e),
        "acc_in": acc_in.ravel(), "acc_out": acc_out.ravel(), "test_acc": test_c.mean(2).ravel(),
    })  # fmt: skip


@dataclass(eq=False)
class Sweep:
    """A merged run: ``members`` [k, n] bool, and per epoch the correctness of every member on
    every training example (:meth:`correct`) and test example (:meth:`test_correct`)."""

    spec: RunSpec
    chunks: list[Result]
    data: data.TrainSet

    @functools.cached_property
    def members(self) -> np.ndarray:
        n = len(self.data.y_train)
        return np.concatenate([np.unpackbits(c.arrays["members"], axis=1, count=n).astype(bool)
                               for c in self.chunks])  # fmt: skip

    @property
    def k(self) -> int:
        return len(self.members)

    @property
    def epochs(self) -> int:
        """The last epoch recorded (the records run from 0, the initialization)."""
        return int(self.chunks[0].arrays["correct"].shape[0]) - 1

    @functools.lru_cache(maxsize=64)  # noqa: B019 (one Sweep per run; the cache dies with it)
    def _epoch(self, epoch: int) -> np.ndarray:
        n, t = len(self.data.y_train), len(self.data.y_test)
        bits = [c.arrays["correct"][epoch] for c in self.chunks]
        return np.concatenate([np.unpackbits(b, axis=1, count=n + t).astype(bool) for b in bits])

    def correct(self, epoch: int = -1) -> np.ndarray:
        """[k, n]: which members predict each training example's label at ``epoch``."""
        return self._epoch(epoch % (self.epochs + 1))[:, : len(self.data.y_train)]

    def test_correct(self, epoch: int = -1) -> np.ndarray:
        """[k, T]: which members predict each test example's label at ``epoch``."""
        return self._epoch(epoch % (self.epochs + 1))[:, len(self.data.y_train) :]

    def estimate(self, epoch: int = -1, models=None) -> dict[str, np.ndarray]:
        """``groundtruth.fz_estimate`` at ``epoch`` from all members or the chosen ``models``."""
        sel = slice(None) if models is None else models
        return fz_estimate(self.members[sel], self.correct(epoch)[sel])

    def accuracy(self, epoch: int = -1) -> dict[str, float]:
        """Mean over members of the accuracy on their own subset (train), on the test set
        (test), and the gap train - test."""
        c, m = self.correct(epoch), self.members
        train = float(((c & m).sum(1) / m.sum(1)).mean())
        test = float(self.test_correct(epoch).mean())
        return {"train_acc": train, "test_acc": test, "gap": train - test}

    @property
    def n_params(self) -> int:
        shape = tuple(self.data.x_train.shape[1:])
        return nets.n_params(self.spec.family, self.spec.width, shape, self.data.n_classes)

    @property
    def wall_s(self) -> float:
        return float(sum(c.meta["wall_s"] for c in self.chunks))

    def provenance(self) -> str:
        m = self.chunks[0].meta
        commits = sorted({c.meta["commit"] for c in self.chunks})
        return (
            f"Provenance: profile {m.get('profile') or '-'} · device {m['device']} · wall "
            f"{self.wall_s:.0f} s ({self.k} models, {len(self.chunks)} chunks)\n"
            f"            commit {', '.join(commits)} · data {m.get('source', '-')}"
        )
