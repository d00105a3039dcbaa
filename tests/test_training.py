import numpy as np
import pandas as pd
import pytest
import torch

from memlib import RunConfig, score_run
from memlib.data import load_dataset
from memlib.models import build_model
from memlib.scores import autocast
from memlib.training import Schedule, epoch_order, train


def _tiny(path, **kw):
    return RunConfig(
        dataset=f"npz:{path}", hidden=64, epochs=4, lr=0.1, batch_size=32, device="cpu", **kw
    )


def test_learns_and_records_history(tiny_npz):
    run = score_run(_tiny(tiny_npz, n_corrupt=20), progress=False)
    h = run.history
    assert list(h.epoch) == [0, 1, 2, 3, 4]
    assert h.train_acc.iloc[-1] > 0.6 and h.train_acc.iloc[-1] > h.train_acc.iloc[0]
    assert {"unmuted_acc", "muted_acc", "train_acc_corrupted", "train_acc_clean"} <= set(h)
    assert run.epoch_scores.shape == (5, 200)
    np.testing.assert_allclose(run.epoch_scores[-1], run.table.score, rtol=1e-5, atol=1e-6)
    assert run.table.corrupted.sum() == 20


def test_same_seed_same_scores_other_seed_other_scores(tiny_npz, monkeypatch, tmp_path):
    a = score_run(_tiny(tiny_npz), progress=False).table
    monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path / "other-cache"))  # recompute, no cache
    b = score_run(_tiny(tiny_npz), progress=False).table
    c = score_run(_tiny(tiny_npz).with_seed(1), progress=False).table
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a.score, c.score)


def test_killed_run_resumes_where_it_stopped(tiny_npz, tmp_path):
    data = load_dataset(f"npz:{tiny_npz}")
    sched = Schedule(lr=0.1, epochs=4, batch_size=32)

    def model():
        return build_model(
            "mlp", data.input_shape, 4, hidden=64, turnover=True, mask_seed=0, init_seed=0
        )

    full = train(model(), data, sched, order_seed=0, progress=False)
    ckpt = tmp_path / "ckpt.pt"

    class Killed(Exception):
        pass

    killer = model()
    calls = {"n": 0}
    step = torch.optim.SGD.step

    def step_then_die(self, *a, **k):  # die in the middle of epoch 3
        calls["n"] += 1
        if calls["n"] == 2 * 7 + 3:
            raise Killed
        return step(self, *a, **k)

    torch.optim.SGD.step = step_then_die
    try:
        with pytest.raises(Killed):
            train(killer, data, sched, order_seed=0, checkpoint=ckpt, progress=False)
    finally:
        torch.optim.SGD.step = step
    assert torch.load(ckpt, weights_only=False)["epoch"] == 2
    resumed = train(model(), data, sched, order_seed=0, checkpoint=ckpt, progress=False)
    assert pd.DataFrame(resumed.history).equals(pd.DataFrame(full.history))
    np.testing.assert_array_equal(resumed.epoch_scores, full.epoch_scores)
    for k, v in full.train_eval.items():
        assert torch.equal(resumed.train_eval[k], v), k
    # Resuming a finished run trains nothing and still returns the final evaluation.
    again = train(model(), data, sched, order_seed=0, checkpoint=ckpt, progress=False)
    assert len(again.history) == 5 and torch.equal(
        again.train_eval["loss_muted"], full.train_eval["loss_muted"]
    )


def test_bf16_runs_the_products_in_bf16_and_changes_the_numbers(tiny_npz):
    """Under the flag the model's products run in bf16 (autocast), so the run differs from the
    fp32 run of the same seed in every recorded number; both learn."""
    fp32 = score_run(_tiny(tiny_npz), progress=False)
    bf16 = score_run(_tiny(tiny_npz, bf16=True), progress=False)
    for run in (fp32, bf16):
        assert run.history.train_acc.iloc[-1] > 0.6
    h32, h16 = fp32.history, bf16.history
    assert (h32.train_loss != h16.train_loss).all()  # epoch 0 too: the evaluation in bf16
    assert not np.allclose(fp32.table.score, bf16.table.score, rtol=1e-4, atol=1e-5)
    # the same run, up to bf16's precision (about 3 significant digits)
    np.testing.assert_allclose(h16.train_loss.iloc[0], h32.train_loss.iloc[0], rtol=0.05)
    model = build_model("mlp", (1, 8, 8), 4, hidden=16, turnover=True, mask_seed=0, init_seed=0)
    x, idx = torch.randn(5, 1, 8, 8), torch.arange(5)
    with autocast(torch.device("cpu"), True):
        assert model(x, idx, "unmuted").dtype == torch.bfloat16
    with autocast(torch.device("cpu"), False):
        assert model(x, idx, "unmuted").dtype == torch.float32


def test_epoch_order_is_a_seeded_permutation_per_epoch():
    a = epoch_order(3, 1, 50)
    assert sorted(a.tolist()) == list(range(50))
    assert torch.equal(a, epoch_order(3, 1, 50))  # a function of (seed, epoch) only
    assert not torch.equal(a, epoch_order(3, 2, 50)) and not torch.equal(a, epoch_order(4, 1, 50))


def test_augmentation_is_seeded_and_changes_the_run(tiny_npz):
    data = load_dataset(f"npz:{tiny_npz}")

    def run(augment: bool, order_seed: int = 0):
        model = build_model("mlp", (1, 8, 8), 4, hidden=16, turnover=True, mask_seed=0, init_seed=0)
        sched = Schedule(lr=0.1, epochs=2, batch_size=32, augment=augment)
        return train(model, data, sched, order_seed=order_seed, progress=False).epoch_scores

    a = run(True)
    np.testing.assert_array_equal(a, run(True))  # the same seed: the same crops and flips
    assert not np.allclose(a, run(False)) and not np.allclose(a, run(True, order_seed=1))
