"""Vectorized ensembles and the Feldman-Zhang estimator, each against a slow, obvious reference."""

import shutil

import joblib
import numpy as np
import pandas as pd
import pytest
import torch

import memlib.groundtruth as GT
from memlib import stats, studies
from memlib.cli import main
from memlib.config import GroundTruthStudy, RunConfig
from memlib.data import load_dataset
from memlib.ensembles import init_ensemble, predict, train_ensemble
from memlib.errors import MemlibError
from memlib.models import build_model
from memlib.results import cache_root
from memlib.training import Schedule, train


def _members(m: int, n: int, size: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    out = torch.zeros(m, n, dtype=torch.bool)
    for j in range(m):
        out[j, torch.randperm(n, generator=g)[:size]] = True
    return out


@pytest.mark.parametrize("momentum, milestones", [(0.0, ()), (0.9, (2,))])
def test_ensemble_of_4_equals_4_sequential_models(tiny_npz, momentum, milestones):
    """Each member: its own subset, init and order; the weights of ``training.train`` on a plain
    MLP with the same seeds, to float tolerance."""
    data = load_dataset(f"npz:{tiny_npz}")
    members = _members(4, data.n_train, 140)
    init, order = [11, 12, 13, 14], [21, 22, 23, 24]
    sched = Schedule(lr=0.05, epochs=3, batch_size=32, momentum=momentum, milestones=milestones)
    p = init_ensemble(64, 48, data.n_classes, init)
    train_ensemble(p, data.x_train, data.y_train, members, order, sched)
    for m in range(4):
        model = build_model(
            "mlp",
            data.input_shape,
            data.n_classes,
            hidden=48,
            turnover=False,
            mask_seed=0,
            init_seed=init[m],
        )
        train(model, data, sched, order_seed=order[m], train_idx=members[m], progress=False)
        for name, t in (
            ("w1", model.fc1.weight),
            ("b1", model.fc1.bias),
            ("w2", model.fc2.weight),
            ("b2", model.fc2.bias),
        ):
            torch.testing.assert_close(p[name][m], t.detach(), atol=2e-5, rtol=1e-4)
        pred = model(data.x_train, None, "unmuted").argmax(1)
        assert (predict(p, data.x_train)[m] == pred).float().mean() > 0.99
    assert not torch.equal(p["w1"][0], p["w1"][1])  # members really differ


def test_ensemble_rejects_unequal_subsets_and_adamw(tiny_npz):
    data = load_dataset(f"npz:{tiny_npz}")
    p = init_ensemble(64, 8, data.n_classes, [0, 1])
    uneven = _members(2, data.n_train, 100)
    uneven[0, ~uneven[0]] = True
    with pytest.raises(ValueError, match="as many examples"):
        train_ensemble(p, data.x_train, data.y_train, uneven, [0, 1], Schedule(epochs=1))
    with pytest.raises(ValueError, match="SGD"):
        train_ensemble(
            p,
            data.x_train,
            data.y_train,
            _members(2, 200, 100),
            [0, 1],
            Schedule(epochs=1, optimizer="adamw"),
        )


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
        corrupt=20,
    )
    return RunConfig(**(base | kw))


def test_fz_run_stores_everything_and_scores_are_recomputable(tiny_npz):
    run = GT.fz_run(_cfg(tiny_npz), models=10, fraction=0.7, chunk=4, progress=False)
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
    more = GT.fz_run(_cfg(tiny_npz), models=12, fraction=0.7, chunk=4, progress=False)
    assert (more.correct[:8] == run.correct[:8]).all()
    assert [c.path for c in more.chunks[:2]] == [c.path for c in run.chunks[:2]]


def test_influence_on_chosen_test_examples(mnist_root, monkeypatch):
    monkeypatch.setenv("MEMLIB_DATA", str(mnist_root))
    cfg = RunConfig(n_train=200, hidden=16, epochs=4, batch_size=32, momentum=0.9, device="cpu")
    run = GT.fz_run(cfg, models=6, fraction=0.5, chunk=3, progress=False)
    assert run.test_correct.shape == (6, 10_000)
    infl = run.influence([5, 7, 9])
    assert infl["mem"].shape == (200, 3)
    expect = GT.fz_influence(run.members, run.test_correct[:, [5, 7, 9]])
    np.testing.assert_allclose(infl["mem"], expect["mem"], equal_nan=True)
    assert np.nanmax(np.abs(infl["mem"])) <= 1 and (infl["se"] > 0).all()
    assert (run.history.test_acc > 0.2).all()  # the models learned something


def test_resume_trains_only_the_missing_models(tiny_npz, monkeypatch):
    cfg = _cfg(tiny_npz)
    first = GT.fz_run(cfg, models=8, fraction=0.7, chunk=4, progress=False)
    shutil.rmtree(first.chunks[1].path)  # as if the run had stopped after its first chunk
    trained = []
    real = GT.train_ensemble
    monkeypatch.setattr(
        GT,
        "train_ensemble",
        lambda p, *a, **k: trained.append(p["w1"].shape[0]) or real(p, *a, **k),
    )
    again = GT.fz_run(cfg, models=8, fraction=0.7, chunk=4, progress=False)
    assert trained == [4]  # one chunk of 4 models, not 8
    assert (again.correct == first.correct).all() and (again.members == first.members).all()


def test_interrupted_chunk_resumes_from_its_checkpoint(tiny_npz, monkeypatch, tmp_path):
    cfg = _cfg(tiny_npz, epochs=4)
    real = GT.train_ensemble

    def stop_after_epoch_2(params, *a, on_epoch=None, **k):
        def hook(epoch, params, momenta):
            on_epoch(epoch, params, momenta)
            if epoch == 2:
                raise KeyboardInterrupt

        return real(params, *a, on_epoch=hook, **k)

    monkeypatch.setattr(GT, "train_ensemble", stop_after_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        GT.fz_run(cfg, models=4, fraction=0.7, chunk=4, progress=False)
    assert list((cache_root() / "fz_chunk").glob("*/checkpoint.pt"))
    starts = []
    monkeypatch.setattr(
        GT,
        "train_ensemble",
        lambda *a, start_epoch=1, **k: (
            starts.append(start_epoch) or real(*a, start_epoch=start_epoch, **k)
        ),
    )
    resumed = GT.fz_run(cfg, models=4, fraction=0.7, chunk=4, progress=False)
    assert starts == [3]
    monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path / "fresh"))
    fresh = GT.fz_run(cfg, models=4, fraction=0.7, chunk=4, progress=False)
    assert (resumed.correct == fresh.correct).all()


def test_parallel_jobs_merge_deterministically(tiny_npz, tmp_path, monkeypatch):
    """Chunks run as independent joblib jobs in worker processes; the merge does not depend on
    which finished first, and equals the sequential run."""
    cfg = _cfg(tiny_npz)
    seq = GT.fz_run(cfg, models=6, fraction=0.7, chunk=2, progress=False)
    monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path / "parallel"))
    with joblib.parallel_config(backend="loky"):
        par = GT.fz_run(cfg, models=6, fraction=0.7, chunk=2, n_jobs=2, progress=False)
    assert (par.members == seq.members).all() and par.seeds.equals(seq.seeds)
    # workers may run torch with another thread count: the same numbers up to float rounding
    assert (par.correct == seq.correct).mean() > 0.99


def test_dask_backend_runs_the_chunks(tiny_npz, tmp_path, monkeypatch):
    """The same study on a (local, in-process) Dask cluster through joblib's dask backend."""
    distributed = pytest.importorskip("distributed")
    cfg = _cfg(tiny_npz)
    seq = GT.fz_run(cfg, models=4, fraction=0.7, chunk=2, progress=False)
    monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path / "dask"))
    with distributed.Client(
        processes=False, n_workers=2, threads_per_worker=1, dashboard_address=None
    ):
        with joblib.parallel_config(backend="dask"):
            run = GT.fz_run(cfg, models=4, fraction=0.7, chunk=2, n_jobs=2, progress=False)
    assert (run.members == seq.members).all() and run.seeds.equals(seq.seeds)
    assert (run.correct == seq.correct).mean() > 0.99  # threads: up to float rounding


def test_study_and_run_parameters_fail_early(tiny_npz):
    for kw, word in [
        (dict(fraction=1.0), "fraction"),
        (dict(models=1), "models"),
        (dict(models=7), "even"),
        (dict(chunk=0), "chunk"),
        (dict(top=0.9), "top"),
        (dict(corrupt=2000), "corrupt"),
    ]:
        with pytest.raises(MemlibError, match=word):
            GroundTruthStudy(**kw)
    with pytest.raises(MemlibError, match="arch"):
        GT.fz_run(_cfg(tiny_npz, arch="vgg11"), models=4)
    with pytest.raises(MemlibError, match="optimizer"):
        GT.fz_run(_cfg(tiny_npz, optimizer="adamw"), models=4)


def test_same_data_for_every_seed():
    """The ground truth and every turn-over run see the same random labels."""
    p = GroundTruthStudy(seeds=[3, 4])
    a, b, g = p.turnover_run(3, 100), p.turnover_run(4, 100), p.ground_truth(100)
    assert a.corrupt_seed == b.corrupt_seed == g.corrupt_seed == p.data_seed
    assert a.init_seed != b.init_seed and not g.turnover and a.turnover


def test_agreement_and_analysis_helpers():
    rng = np.random.default_rng(0)
    fz = rng.random(300)
    corrupted = fz > 0.8
    to = np.stack([fz + 0.3 * rng.standard_normal(300) for _ in range(3)])
    a = studies.agreement(to, fz, corrupted, top=0.1, n_boot=200).set_index("metric")
    assert a.loc["spearman", "averaged"] > a.loc["spearman", "per_seed"] > 0.5
    assert (
        a.loc["spearman", "ci_low"] < a.loc["spearman", "averaged"] < a.loc["spearman", "ci_high"]
    )
    assert a.loc["roc_auc feldman-zhang", "averaged"] == 1.0
    # slow references
    top = lambda x, k: set(np.argsort(-x)[:k])  # noqa: E731
    assert stats.precision_at_k(to[0], fz, 30) == len(top(to[0], 30) & top(fz, 30)) / 30
    assert stats.precision_at_k(fz, fz, 30) == 1.0
    assert abs(stats.pearson(to[0], fz) - pd.Series(to[0]).corr(pd.Series(fz))) < 1e-12
    assert stats.spearman_brown(0.5) == pytest.approx(2 / 3)
    lo, hi = stats.bootstrap_ci(np.mean, fz, n=500)
    assert lo < fz.mean() < hi and (lo, hi) == stats.bootstrap_ci(np.mean, fz, n=500)
    d = studies.disagreements(
        to.mean(0),
        pd.DataFrame(
            {
                "index": range(300),
                "label": 0,
                "true_label": 0,
                "corrupted": corrupted,
                "mem": fz,
                "se": 0.0,
            }
        ),
        5,
    )
    assert len(d) == 10 and (d.gap[:5] > 0).all() and (d.gap[5:] < 0).all()


def test_fz_command_writes_estimates_with_standard_errors(tiny_npz, tmp_path):
    out, arrays = tmp_path / "fz.csv", tmp_path / "fz.npz"
    argv = [
        "fz",
        "--dataset",
        f"npz:{tiny_npz}",
        "--models",
        "6",
        "--fraction",
        "0.5",
        "--epochs",
        "2",
        "--hidden",
        "16",
        "--corrupt",
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
        (["--dataset", "npz:TINY", "--corrupt", "201"], "larger than the 200"),
        (["--dataset", "npz:TINY", "--n-train", "300"], "larger than the 200"),
        (["--dataset", "npz:TINY", "--fraction", "1.5"], "fraction"),
        (["--dataset", "npz:TINY", "--models", "1"], "models"),
        (["--dataset", "npz:TINY", "--epochs", "0"], "epochs"),
        (["--dataset", "npz:TINY", "--out", "DIR"], "is a directory"),
    ],
)
def test_fz_bad_input_one_line_error(args, words, tiny_npz, tmp_path, capsys):
    args = [a.replace("TINY", str(tiny_npz)).replace("DIR", str(tmp_path)) for a in args]
    out = tmp_path / "fz.csv"
    argv = ["fz", "--device", "cpu", "--quiet", "--epochs", "1"]
    argv += ([] if "--models" in args else ["--models", "4"]) + args
    if "--out" not in args:
        argv += ["--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("memlib: error:") and words in err and "\n" not in err
    assert not out.exists()
