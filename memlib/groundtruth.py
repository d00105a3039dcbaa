"""Ground truth: the Feldman-Zhang (2020) memorization estimator, on vectorized MLP ensembles.

``k`` models each train on a random fraction ``r`` of the training set (member ``j``'s subset
is ``members[j]``). For every training example ``i``::

    mem(i) = P[model predicts y_i | i in its subset] - P[model predicts y_i | i not in it]

and, for a test example ``t``, the influence of ``i`` on it is the same difference of the
probabilities that ``t`` is predicted correctly. Both come with a binomial standard error and a
95% confidence interval (Agresti-Caffo). Everything is traceable: a run stores every member's
subset mask, its three seeds and its correctness on every training and test example.

The ``k`` models train in chunks, each an ensemble (:mod:`memlib.ensembles`) cached on its own
(``.cache/fz_chunk/``): resuming trains only the chunks that are missing, and a study too large
for one machine runs its chunks as independent joblib jobs, on any joblib backend (a Dask or Ray
cluster: ``with joblib.parallel_config(backend="dask"): fz_run(...)``). The merge concatenates
the chunks in member order, so it does not depend on which job finished first.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

import joblib
import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from .checkpoint import load_checkpoint, save_atomic
from .config import CHUNK, RunConfig, ensemble_config
from .ensembles import init_ensemble, predict, train_ensemble
from .errors import MemlibError
from .masks import hash32
from .results import Computed, Result
from .runs import cached_run, run_data

# Salts of the members' seed streams (subset, initialization, data order).
_SUBSET, _INIT, _ORDER = 0x5B5E7A, 0x1417AA, 0x0D3E55
Z95 = 1.959964  # two-sided 95% normal quantile


def member_seeds(cfg: RunConfig, j: int) -> dict[str, int]:
    """Member ``j``'s seeds: its subset (from ``cfg.mask_seed``), its initialization
    (``cfg.init_seed``) and its data order (``cfg.order_seed``), each an independent stream."""
    mix = lambda seed, salt: hash32((hash32(seed ^ salt) + j) & 0xFFFFFFFF)
    return {
        "subset": mix(cfg.mask_seed, _SUBSET),
        "init": mix(cfg.init_seed, _INIT),
        "order": mix(cfg.order_seed, _ORDER),
    }


def subset_mask(n: int, size: int, seed: int) -> np.ndarray:
    """A boolean mask of ``size`` of ``n`` examples, drawn uniformly under ``seed``."""
    keep = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:size]
    mask = np.zeros(n, bool)
    mask[keep.numpy()] = True
    return mask


def fz_estimate(members: np.ndarray, correct: np.ndarray) -> dict[str, np.ndarray]:
    """The estimator from a [k, n] membership matrix and a [k, n] (or [k, T]) correctness matrix.

    With ``correct`` over the training examples themselves, ``mem`` is each example's
    memorization. Returns per-example arrays: ``mem``, ``se``, ``ci_low``, ``ci_high``, ``p_in``,
    ``p_out``, ``n_in``, ``n_out`` (``mem`` is NaN where an example was never in, or never out).
    ``se`` and the 95% interval are Agresti and Caffo's (2000): one success and one failure added
    to each group, so that they stay informative when every model agrees."""
    members, correct = np.asarray(members, bool), np.asarray(correct, bool)
    n_in, n_out = members.sum(0), (~members).sum(0)
    c_in, c_out = (members & correct).sum(0), (~members & correct).sum(0)
    return _difference(c_in, n_in, c_out, n_out)


def fz_influence(members: np.ndarray, test_correct: np.ndarray) -> dict[str, np.ndarray]:
    """Influence of every training example ``i`` on every test example ``t`` [n, T]:
    P[t correct | i in] - P[t correct | i out], with the same ``se``/interval as ``fz_estimate``."""
    m = np.asarray(members, np.float64)  # [k, n]
    c = np.asarray(test_correct, np.float64)  # [k, T]
    n_in, n_out = m.sum(0)[:, None], (1 - m).sum(0)[:, None]
    return _difference(m.T @ c, n_in, (1 - m).T @ c, n_out)


def _difference(c_in, n_in, c_out, n_out) -> dict[str, np.ndarray]:
    with np.errstate(invalid="ignore", divide="ignore"):
        p_in, p_out = c_in / n_in, c_out / n_out
        a_in, a_out = (c_in + 1) / (n_in + 2), (c_out + 1) / (n_out + 2)
        se = np.sqrt(a_in * (1 - a_in) / (n_in + 2) + a_out * (1 - a_out) / (n_out + 2))
    centre = a_in - a_out
    return {
        "mem": p_in - p_out,
        "se": se,
        "ci_low": np.clip(centre - Z95 * se, -1, 1),
        "ci_high": np.clip(centre + Z95 * se, -1, 1),
        "p_in": p_in,
        "p_out": p_out,
        "n_in": np.asarray(n_in),
        "n_out": np.asarray(n_out),
    }


@dataclass
class FZRun:
    """The outcome of :func:`fz_run`: the merged chunks, in member order.

    members [k, n] bool: each model's training subset; correct [k, n] / test_correct [k, T]
    bool: whether each model predicts each training / test example's (trained-on) label;
    seeds: DataFrame (member, subset, init, order); history: per member, its accuracy on its
    own subset (``acc_in``), on the held-out examples (``acc_out``) and on the test set."""

    config: RunConfig
    fraction: float
    chunks: list[Result]
    data: object  # the run's Dataset (labels, corrupted flags), on the CPU

    def _cat(self, name: str) -> np.ndarray:
        return np.concatenate([_unpack(c.arrays, name) for c in self.chunks])

    @functools.cached_property
    def members(self) -> np.ndarray:
        return self._cat("members")

    @functools.cached_property
    def correct(self) -> np.ndarray:
        return self._cat("correct")

    @functools.cached_property
    def test_correct(self) -> np.ndarray:
        return self._cat("test_correct")

    @property
    def seeds(self) -> pd.DataFrame:
        return pd.concat([c.history[["member", *_SEEDS]] for c in self.chunks], ignore_index=True)

    @property
    def history(self) -> pd.DataFrame:
        return pd.concat([c.history for c in self.chunks], ignore_index=True)

    @property
    def k(self) -> int:
        return sum(len(c.history) for c in self.chunks)

    @property
    def wall_s(self) -> float:
        """Training and evaluation time of all chunks, as recorded when each was computed."""
        return float(sum(c.meta["wall_s"] for c in self.chunks))

    def scores(self, models: np.ndarray | slice | None = None) -> pd.DataFrame:
        """One row per training example: index, label, corrupted, true_label and
        :func:`fz_estimate`'s columns, from all models or the chosen ones (``models``)."""
        sel = slice(None) if models is None else models
        est = fz_estimate(self.members[sel], self.correct[sel])
        d = self.data
        return pd.DataFrame(
            {
                "index": np.arange(d.n_train),
                "label": d.y_train.numpy(),
                "corrupted": d.corrupted.numpy(),
                "true_label": d.true_y_train.numpy(),
                **est,
            }
        )

    def influence(self, test_idx) -> dict[str, np.ndarray]:
        """Influence of every training example on the test examples ``test_idx`` [n, T]."""
        if not len(self.data.y_test):
            raise MemlibError(f"{self.config.dataset} has no test split: no influence to estimate")
        return fz_influence(self.members, self.test_correct[:, np.asarray(test_idx)])

    def provenance(self) -> str:
        m = self.chunks[0].meta
        commits = sorted({c.meta["commit"] for c in self.chunks})
        return (
            f"Provenance: profile {m.get('profile') or '-'} · device {m['device']} · "
            f"wall {self.wall_s:.0f} s ({self.k} models, {len(self.chunks)} chunks)\n"
            f"            commit {', '.join(commits)} · data {m.get('source', '-')}"
        )


_SEEDS = ("subset", "init", "order")


def fz_run(
    cfg: RunConfig,
    n_models: int,
    fraction: float = 0.7,
    *,
    chunk: int = CHUNK,
    n_jobs: int = 1,
    profile: str = "",
    progress: bool = True,
) -> FZRun:
    """Train ``n_models`` MLPs with ``cfg``'s recipe (dataset, n_train, n_corrupt, hidden, lr,
    epochs, batch size, momentum, bf16, seeds), each on a random ``fraction`` of the training
    set, ``chunk`` at a time as one ensemble (cached), and return them merged.

    ``n_jobs`` > 1 runs chunks in parallel through joblib (its current backend: processes by
    default, a Dask or Ray cluster under ``joblib.parallel_config``). Chunks depend only on
    their members, so a larger ``n_models`` reuses the chunks a smaller one trained."""
    cfg = ensemble_config(cfg, n_models, fraction, chunk)
    data = _dataset(cfg, torch.device("cpu"))
    if round(fraction * data.n_train) < 1:
        raise MemlibError(f"fraction={fraction} of {data.n_train} examples leaves none to train")
    starts = range(0, n_models, chunk)
    stops = [min(s + chunk, n_models) for s in starts]
    jobs = (
        joblib.delayed(_chunk)(cfg, fraction, a, b, profile)
        for a, b in zip(starts, stops, strict=True)
    )
    run = joblib.Parallel(n_jobs=n_jobs, return_as="generator")(jobs)
    bar = tqdm(
        run, total=len(starts), desc=f"{n_models} models", unit="chunk", disable=not progress
    )
    return FZRun(cfg, fraction, list(bar), data)


def _chunk(cfg: RunConfig, fraction: float, start: int, stop: int, profile: str) -> Result:
    """Members ``start`` to ``stop`` - 1, trained as one ensemble (cached, resumable)."""
    key = {"fraction": fraction, "members": [start, stop]}
    compute = functools.partial(_train_chunk, cfg, fraction, range(start, stop))
    return cached_run("fz_chunk", cfg, compute, key=key, profile=profile)


def _train_chunk(cfg: RunConfig, fraction: float, js: range, folder, device) -> Computed:
    """Train members ``js`` as one ensemble, checkpointed in ``folder``; their subsets, seeds,
    accuracies and correctness on every training and test example."""
    data = _dataset(cfg, device)
    n = data.n_train
    seeds = [member_seeds(cfg, j) for j in js]
    members = np.stack([subset_mask(n, round(fraction * n), s["subset"]) for s in seeds])
    ckpt = folder / "checkpoint.pt"
    inits = [s["init"] for s in seeds]
    params = init_ensemble(int(np.prod(data.input_shape)), cfg.hidden, data.n_classes, inits)
    fresh = {"epoch": 0, "params": {k: v.to(device) for k, v in params.items()}, "momenta": None}
    state = load_checkpoint(ckpt, device, ("epoch", "params", "momenta"))
    if state is not None and not _fits(state["params"], fresh["params"]):
        print(f"memlib: ignoring checkpoint {ckpt}: its weights do not fit this chunk")
        state = None
    state = state or fresh
    params = state["params"]
    train_ensemble(
        params,
        data.x_train,
        data.y_train,
        torch.as_tensor(members, device=device),
        [s["order"] for s in seeds],
        cfg.schedule(),
        start_epoch=state["epoch"] + 1,
        momenta=state["momenta"],
        on_epoch=lambda e, p, m: save_atomic({"epoch": e, "params": p, "momenta": m}, ckpt),
    )
    correct = (predict(params, data.x_train, bf16=cfg.bf16) == data.y_train).cpu().numpy()
    test_correct = (predict(params, data.x_test, bf16=cfg.bf16) == data.y_test).cpu().numpy()
    history = pd.DataFrame(
        {
            "member": np.array(js),
            **{k: [s[k] for s in seeds] for k in _SEEDS},
            "acc_in": (correct & members).sum(1) / members.sum(1),
            "acc_out": (correct & ~members).sum(1) / np.maximum((~members).sum(1), 1),
            "test_acc": test_correct.mean(1) if test_correct.size else np.nan,
        }
    )
    arrays = {}
    for name, a in (("members", members), ("correct", correct), ("test_correct", test_correct)):
        arrays |= _pack(name, a)
    return Computed(history, arrays, {"source": data.source})


def _dataset(cfg: RunConfig, device: torch.device):
    """The study's dataset, loaded once per process and device: every chunk a process runs
    reads it (the ensembles never write to it). Keyed by ``cfg.key()``, which holds a user's
    npz file's hash: a file rewritten at the same path is read again."""
    return _load(json.dumps(cfg.key(), sort_keys=True), cfg, device)


@functools.lru_cache(maxsize=2)
def _load(key: str, cfg: RunConfig, device: torch.device):
    return run_data(cfg, device)


def _fits(saved: dict, fresh: dict) -> bool:
    """Whether checkpointed weights have the names and shapes of this chunk's."""
    return saved.keys() == fresh.keys() and all(saved[k].shape == v.shape for k, v in fresh.items())


def _pack(name: str, a: np.ndarray) -> dict[str, np.ndarray]:
    """A [k, n] boolean matrix as bits (8 examples a byte) and its width."""
    return {name: np.packbits(a, axis=1), f"{name}_n": np.array(a.shape[1])}


def _unpack(arrays: dict, name: str) -> np.ndarray:
    return np.unpackbits(arrays[name], axis=1, count=int(arrays[f"{name}_n"])).astype(bool)
