"""The Feldman-Zhang estimator against a slow, obvious reference; its chunked, cached runs."""

import shutil

import joblib
import numpy as np
import pandas as pd
import pytest
import torch

import memlib.groundtruth as GT
from memlib.checkpoint import save_atomic
from memlib.cli import main
from memlib.config import RunConfig
from memlib.errors import MemlibError
from memlib.results import cache_root


def _slow_difference(members, correct):
    """The estimator written out, one example at a time."""
    k, n = members.shape
    mem, se = np.full(n, np.nan), np.zeros(n)
    for i in range(n):
        ins = [correct[j, i] for j in range(k) if members[j, i]]
        outs = [correct[j, i] for j in range(k) if not members[j, i]]
        if ins and outs:
            mem[i] = np.mean(ins) - np.mean(outs)
        a = (sum(ins) + 1) / (len(ins) + 2)
        b = (sum(outs) + 1) / (len(outs) + 2)
        se[i] = np.sqrt(a * (1 - a) / (len(ins) + 2) + b * (1 - b) / (len(outs) + 2))
    return mem, se


def test_estimator_and_influence_match_the_slow_reference():
    rng = np.random.default_rng(0)
    members = rng.random((30, 50)) < 0.7
    members[:, 0] = True  # example 0 never held out: undefined
    correct = rng.random((30, 50)) < 0.6
    est = GT.fz_estimate(members, correct)
    mem, se = _slow_difference(members, correct)
    np.testing.assert_allclose(est["mem"], mem, equal_nan=True)
    np.testing.assert_allclose(est["se"], se)
    assert np.isnan(est["mem"][0]) and (est["ci_low"] <= est["ci_high"]).all()
    test_correct = rng.random((30, 7)) < 0.5
    infl = GT.fz_influence(members, test_correct)
    assert infl["mem"].shape == (50, 7)
    for t in range(7):
        m, s = _slow_difference(members, np.repeat(test_correct[:, [t]], 50, 1))
        np.testing.assert_allclose(infl["mem"][:, t], m, equal_nan=True)
        np.testing.assert_allclose(infl["se"][:, t], s)


@pytest.mark.parametrize("p_in, p_out", [(0.5, 0.5), (0.9, 0.3), (1.0, 0.95), (0.99, 0.0)])
def test_confidence_interval_covers_the_truth(p_in, p_out):
    """Simulated binomials (70 models in, 30 out): the 95% interval covers the true difference
    in at least 92% of 4,000 draws, even where the plain Wald interval collapses (p near 1)."""
    rng = np.random.default_rng(1)
    c_in, c_out = rng.binomial(70, p_in, 4000), rng.binomial(30, p_out, 4000)
    ci = GT._difference(c_in, np.full(4000, 70), c_out, np.full(4000, 30))
    covered = (ci["ci_low"] <= p_in - p_out) & (p_in - p_out <= ci["ci_high"])
    assert covered.mean() >= 0.92


def _cfg(tiny_npz, **kw):
    base = dict(
        dataset=f"npz:{tiny_npz}",
        hidden=16,
        epochs=2,
        lr=0.1,
        batch_size=32,
        device="cpu",
        n_corrupt=20,
    )
    return RunConfig(**(base | kw))


def test_fz_run_stores_everything_and_scores_are_recomputable(tiny_npz):
    run = GT.fz_run(_cfg(tiny_npz), n_models=10, fraction=0.7, chunk=4, progress=False)
    assert run.k == 10 and len(run.chunks) == 3  # 4 + 4 + 2
    assert run.members.shape == (10, 200) and (run.members.sum(1) == 140).all()
    assert run.correct.shape == (10, 200) and run.test_correct.shape[0] == 10
    seeds = run.seeds
    assert list(seeds.member) == list(range(10))
    for col in ("subset", "init", "order"):
        assert seeds[col].nunique() == 10  # every member its own stream
    assert not (seeds.subset == seeds.init).any()
    expect = GT.fz_estimate(run.members, run.correct)
    s = run.scores()
    np.testing.assert_allclose(s.mem, expect["mem"], equal_nan=True)
    assert s.corrupted.sum() == 20 and len(s) == 200
    # every member's subset is the one its stored seed draws
    for j in (0, 9):
        assert (GT.subset_mask(200, 140, int(seeds.subset[j])) == run.members[j]).all()
    with pytest.raises(MemlibError, match="no test"):
        run.influence([0])  # the npz file has no test split
    # a larger study reuses the smaller one's chunks: its first 8 models are the same
    more = GT.fz_run(_cfg(tiny_npz), n_models=12, fraction=0.7, chunk=4, progress=False)
    assert (more.correct[:8] == run.correct[:8]).all()
    assert [c.path for c in more.chunks[:2]] == [c.path for c in run.chunks[:2]]


def test_influence_on_chosen_test_examples(mnist_root, monkeypatch):
    monkeypatch.setenv("MEMLIB_DATA", str(mnist_root))
    cfg = RunConfig(n_train=200, hidden=16, epochs=4, batch_size=32, momentum=0.9, device="cpu")
    run = GT.fz_run(cfg, n_models=6, fraction=0.5, chunk=3, progress=False)
    assert run.test_correct.shape == (6, 10_000)
    infl = run.influence([5, 7, 9])
    assert infl["mem"].shape == (200, 3)
    expect = GT.fz_influence(run.members, run.test_correct[:, [5, 7, 9]])
    np.testing.assert_allclose(infl["mem"], expect["mem"], equal_nan=True)
    assert np.nanmax(np.abs(infl["mem"])) <= 1 and (infl["se"] > 0).all()
    assert (run.history.test_acc > 0.2).all()  # the models learned something


def test_resume_trains_only_the_missing_models(tiny_npz, monkeypatch):
    cfg = _cfg(tiny_npz)
    first = GT.fz_run(cfg, n_models=8, fraction=0.7, chunk=4, progress=False)
    shutil.rmtree(first.chunks[1].path)  # as if the run had stopped after its first chunk
    trained = []
    real = GT.train_ensemble
    monkeypatch.setattr(
        GT,
        "train_ensemble",
        lambda p, *a, **k: trained.append(p["w1"].shape[0]) or real(p, *a, **k),
    )
    again = GT.fz_run(cfg, n_models=8, fraction=0.7, chunk=4, progress=False)
    assert trained == [4]  # one chunk of 4 models, not 8
    assert (again.correct == first.correct).all() and (again.members == first.members).all()


def _kill_a_chunk_after_epoch_2(cfg, monkeypatch):
    """Train one chunk of 4 models until epoch 2 is checkpointed, then interrupt it."""
    real = GT.train_ensemble

    def stop_after_epoch_2(params, *a, on_epoch=None, **k):
        def hook(epoch, params, momenta):
            on_epoch(epoch, params, momenta)
            if epoch == 2:
                raise KeyboardInterrupt

        return real(params, *a, on_epoch=hook, **k)

    monkeypatch.setattr(GT, "train_ensemble", stop_after_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        GT.fz_run(cfg, n_models=4, fraction=0.7, chunk=4, progress=False)
    monkeypatch.setattr(GT, "train_ensemble", real)


def _record_start_epochs(monkeypatch) -> list[int]:
    """The epoch each chunk's training starts from, as it trains."""
    real, starts = GT.train_ensemble, []

    def recorded(*a, start_epoch=1, **k):
        starts.append(start_epoch)
        return real(*a, start_epoch=start_epoch, **k)

    monkeypatch.setattr(GT, "train_ensemble", recorded)
    return starts


def test_interrupted_chunk_resumes_from_its_checkpoint(tiny_npz, monkeypatch, tmp_path):
    cfg = _cfg(tiny_npz, epochs=4)
    _kill_a_chunk_after_epoch_2(cfg, monkeypatch)
    assert list((cache_root() / "fz_chunk").glob("*/checkpoint.pt"))
    starts = _record_start_epochs(monkeypatch)
    resumed = GT.fz_run(cfg, n_models=4, fraction=0.7, chunk=4, progress=False)
    assert starts == [3]
    monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path / "fresh"))
    fresh = GT.fz_run(cfg, n_models=4, fraction=0.7, chunk=4, progress=False)
    assert (resumed.correct == fresh.correct).all()


@pytest.mark.parametrize("torn", ["garbage", "missing keys"])
def test_chunk_with_a_torn_checkpoint_starts_over(tiny_npz, monkeypatch, tmp_path, capsys, torn):
    """A chunk's checkpoint that cannot be read whole is ignored: the chunk trains from epoch 1
    and gives exactly what a fresh run gives."""
    cfg = _cfg(tiny_npz, epochs=3, momentum=0.9)
    real = GT.train_ensemble
    _kill_a_chunk_after_epoch_2(cfg, monkeypatch)
    (ckpt,) = (cache_root() / "fz_chunk").glob("*/checkpoint.pt")
    if torn == "garbage":
        ckpt.write_bytes(ckpt.read_bytes()[:100])  # killed while the checkpoint was written
    else:
        state = torch.load(ckpt, weights_only=False)
        save_atomic({"epoch": state["epoch"], "params": state["params"]}, ckpt)  # no momenta
    starts = _record_start_epochs(monkeypatch)
    capsys.readouterr()
    again = GT.fz_run(cfg, n_models=4, fraction=0.7, chunk=4, progress=False)
    assert starts == [1] and "ignoring unreadable checkpoint" in capsys.readouterr().out
    assert not ckpt.exists()  # the finished chunk drops its checkpoint
    monkeypatch.setattr(GT, "train_ensemble", real)
    monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path / "fresh"))
    fresh = GT.fz_run(cfg, n_models=4, fraction=0.7, chunk=4, progress=False)
    assert (again.correct == fresh.correct).all() and (again.members == fresh.members).all()
    assert (again.test_correct == fresh.test_correct).all()
    assert again.history.drop(columns="member").equals(fresh.history.drop(columns="member"))


def test_rewritten_npz_is_read_again(tiny_npz):
    cfg = _cfg(tiny_npz)
    first = GT.fz_run(cfg, n_models=2, fraction=0.5, progress=False)
    f = np.load(tiny_npz)
    np.savez(tiny_npz, x=f["x"], y=(f["y"] + 1) % 4)  # the same path, other labels
    again = GT.fz_run(cfg, n_models=2, fraction=0.5, progress=False)
    assert again.chunks[0].path != first.chunks[0].path  # a new cache key ...
    assert (again.data.true_y_train.numpy() == (f["y"] + 1) % 4).all()  # ... and the new data


def test_parallel_jobs_merge_deterministically(tiny_npz, tmp_path, monkeypatch):
    """Chunks run as independent joblib jobs in worker processes; the merge does not depend on
    which finished first, and equals the sequential run."""
    cfg = _cfg(tiny_npz)
    seq = GT.fz_run(cfg, n_models=6, fraction=0.7, chunk=2, progress=False)
    monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path / "parallel"))
    with joblib.parallel_config(backend="loky"):
        par = GT.fz_run(cfg, n_models=6, fraction=0.7, chunk=2, n_jobs=2, progress=False)
    assert (par.members == seq.members).all() and par.seeds.equals(seq.seeds)
    # workers may run torch with another thread count: the same numbers up to float rounding
    assert (par.correct == seq.correct).mean() > 0.99


def test_dask_backend_runs_the_chunks(tiny_npz, tmp_path, monkeypatch):
    """The same study on a (local, in-process) Dask cluster through joblib's dask backend."""
    distributed = pytest.importorskip("distributed")
    cfg = _cfg(tiny_npz)
    seq = GT.fz_run(cfg, n_models=4, fraction=0.7, chunk=2, progress=False)
    monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path / "dask"))
    with distributed.Client(
        processes=False, n_workers=2, threads_per_worker=1, dashboard_address=None
    ):
        with joblib.parallel_config(backend="dask"):
            run = GT.fz_run(cfg, n_models=4, fraction=0.7, chunk=2, n_jobs=2, progress=False)
    assert (run.members == seq.members).all() and run.seeds.equals(seq.seeds)
    assert (run.correct == seq.correct).mean() > 0.99  # threads: up to float rounding


def test_fz_run_refuses_other_models_and_optimizers(tiny_npz):
    with pytest.raises(MemlibError, match="arch"):
        GT.fz_run(_cfg(tiny_npz, arch="vgg11"), n_models=4)
    with pytest.raises(MemlibError, match="optimizer"):
        GT.fz_run(_cfg(tiny_npz, optimizer="adamw"), n_models=4)
    with pytest.raises(MemlibError, match="leaves none"):
        GT.fz_run(_cfg(tiny_npz), n_models=4, fraction=0.002)  # 0.4 of 200 examples


def test_fz_command_writes_estimates_with_standard_errors(tiny_npz, tmp_path):
    out, arrays = tmp_path / "fz.csv", tmp_path / "fz.npz"
    argv = [
        "fz",
        "--dataset",
        f"npz:{tiny_npz}",
        "--n-models",
        "6",
        "--fraction",
        "0.5",
        "--epochs",
        "2",
        "--hidden",
        "16",
        "--n-corrupt",
        "10",
        "--chunk",
        "3",
        "--device",
        "cpu",
        "--quiet",
        "--out",
        str(out),
        "--arrays",
        str(arrays),
    ]
    assert main(argv) == 0
    t = pd.read_csv(out)
    assert list(t.columns[:8]) == [
        "index",
        "label",
        "corrupted",
        "true_label",
        "mem",
        "se",
        "ci_low",
        "ci_high",
    ]
    assert len(t) == 200 and t.corrupted.sum() == 10 and (t.se > 0).all()
    with np.load(arrays) as a:
        assert a["members"].shape == (6, 200) and (a["members"].sum(1) == 100).all()
        np.testing.assert_allclose(
            GT.fz_estimate(a["members"], a["correct"])["mem"], t.mem, atol=1e-5, equal_nan=True
        )


@pytest.mark.parametrize(
    "args, words",
    [
        (["--dataset", "imagenet"], "unknown dataset"),
        (["--dataset", "npz:TINY", "--n-corrupt", "201"], "n_corrupt=201 is more than the 200"),
        (["--dataset", "npz:TINY", "--n-train", "300"], "n_train=300 is more than the 200"),
        (["--dataset", "npz:TINY", "--n-train", "50", "--n-corrupt", "60"], "n_corrupt=60"),
        (["--dataset", "npz:TINY", "--fraction", "1.5"], "fraction"),
        (["--dataset", "npz:TINY", "--n-models", "1"], "n_models=1"),
        (["--dataset", "npz:TINY", "--epochs", "0"], "epochs"),
        (["--dataset", "npz:TINY", "--out", "DIR"], "is a directory"),
    ],
)
def test_fz_bad_input_one_line_error(args, words, tiny_npz, tmp_path, capsys):
    args = [a.replace("TINY", str(tiny_npz)).replace("DIR", str(tmp_path)) for a in args]
    out = tmp_path / "fz.csv"
    argv = ["fz", "--device", "cpu", "--quiet", "--epochs", "1"]
    argv += ([] if "--n-models" in args else ["--n-models", "4"]) + args
    if "--out" not in args:
        argv += ["--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("memlib: error:") and words in err and "\n" not in err
    assert not out.exists()
