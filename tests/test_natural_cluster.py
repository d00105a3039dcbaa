"""memlib.natural.sweep on a real Dask cluster: the chunks run in worker processes (spawned, with
their own imports of memlib), through joblib's dask backend, and give what one process gives."""

import os

import joblib
import numpy as np
import pytest
import torch

from memlib.natural import sweep
from memlib.natural.data import DataSpec
from memlib.natural.ensemble import Recipe

SPEC = sweep.RunSpec(DataSpec("mnist", 40, 20), "mlp1", 4, Recipe(epochs=2, lr=0.05, batch_size=8))
N_MODELS, CHUNK = 8, 2


def _chunks_trained_here() -> int:
    """How many chunks this process trained: ``sweep._train`` looks the training set up once per
    chunk (run on a worker through ``Client.run``)."""
    info = sweep.trainset.cache_info()
    return info.hits + info.misses


def test_sweep_on_a_local_cluster_equals_one_process(mnist_root, tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    # The worker processes inherit os.environ when they are spawned: set it before the cluster.
    monkeypatch.setenv("MEMLIB_DATA", str(mnist_root))
    monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path / "dask"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the workers' one thread: the same float rounding, the same bits
    try:
        with (
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                     dashboard_address=None) as cluster,
            distributed.Client(cluster) as client,
            monkeypatch.context() as m,
        ):  # fmt: skip
            m.setattr(sweep, "_train", _not_in_this_process)  # the workers import their own
            assert os.getpid() not in client.run(os.getpid).values()
            with joblib.parallel_config(backend="dask"):
                remote = sweep.run(SPEC, N_MODELS, chunk=CHUNK, n_jobs=2, progress=False)
            per_worker = client.run(_chunks_trained_here)
        monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path / "local"))
        local = sweep.run(SPEC, N_MODELS, chunk=CHUNK, n_jobs=1, progress=False)
    finally:
        torch.set_num_threads(threads)

    assert sum(per_worker.values()) == N_MODELS // CHUNK  # every chunk trained on a worker
    done = sorted((tmp_path / "dask" / "natural-chunk").glob("*/meta.json"))
    assert len(done) == N_MODELS // CHUNK  # ... into the cache the workers were given
    assert all(c.path.parent.parent == tmp_path / "dask" for c in remote.chunks)
    assert all(c.path.parent.parent == tmp_path / "local" for c in local.chunks)

    assert remote.k == local.k == N_MODELS and remote.epochs == local.epochs == 2
    assert np.array_equal(remote.members, local.members)
    for epoch in range(remote.epochs + 1):
        assert np.array_equal(remote.correct(epoch), local.correct(epoch))
        assert np.array_equal(remote.test_correct(epoch), local.test_correct(epoch))
    for r, c in zip(remote.chunks, local.chunks, strict=True):
        assert r.config == c.config
        assert r.history.equals(c.history)


def _not_in_this_process(*args, **kwargs):
    raise AssertionError("a chunk was trained in the test process, not on a worker")
