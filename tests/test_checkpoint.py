"""Checkpoints: written atomically, read back only when whole; a torn one means starting over."""

import numpy as np
import pandas as pd
import pytest
import torch

from memlib import checkpoint
from memlib.checkpoint import load_checkpoint, save_atomic
from memlib.data import load_dataset
from memlib.errors import MemlibError
from memlib.models import build_model
from memlib.training import Schedule, train

KEYS = ("epoch", "model")


def test_save_and_load(tmp_path):
    path = tmp_path / "sub" / "checkpoint.pt"
    state = {"epoch": 3, "model": {"w": torch.arange(4.0)}, "history": [{"a": 1}]}
    save_atomic(state, path)
    assert [p.name for p in path.parent.iterdir()] == ["checkpoint.pt"]  # no temporary left
    back = load_checkpoint(path, "cpu", KEYS)
    assert back["epoch"] == 3 and torch.equal(back["model"]["w"], torch.arange(4.0))
    assert back["history"] == [{"a": 1}]
    assert load_checkpoint(None, "cpu", KEYS) is None
    assert load_checkpoint(tmp_path / "none.pt", "cpu", KEYS) is None


def test_a_write_killed_midway_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    save_atomic({"epoch": 1, "model": {}}, path)

    def torn_save(obj, f):
        open(f, "wb").write(b"half a checkpo")
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint.torch, "save", torn_save)
    with pytest.raises(KeyboardInterrupt):
        save_atomic({"epoch": 2, "model": {}}, path)
    assert load_checkpoint(path, "cpu", KEYS)["epoch"] == 1


@pytest.mark.parametrize("torn", ["garbage", "truncated", "missing keys", "not a dict"])
def test_torn_or_stale_checkpoint_is_reported_and_ignored(tmp_path, capsys, torn):
    path = tmp_path / "checkpoint.pt"
    save_atomic({"epoch": 1, "model": {"w": torch.zeros(1000)}}, path)
    if torn == "garbage":
        path.write_bytes(b"\x00garbage\xff" * 10)
    elif torn == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif torn == "missing keys":
        save_atomic({"epoch": 1}, path)
    else:
        save_atomic([1, 2, 3], path)
    assert load_checkpoint(path, "cpu", KEYS) is None
    out = capsys.readouterr().out
    assert "ignoring unreadable checkpoint" in out and str(path) in out
    if torn == "missing keys":
        assert "no model" in out


def _setup(tiny_npz):
    data = load_dataset(f"npz:{tiny_npz}", n_corrupt=20)
    sched = Schedule(lr=0.1, epochs=3, batch_size=32, momentum=0.9, milestones=(2,))

    def model():
        return build_model(
            "mlp", data.input_shape, 4, hidden=32, turnover=True, mask_seed=0, init_seed=0
        )

    return data, sched, model


@pytest.mark.parametrize("torn", ["garbage", "truncated", "missing keys"])
def test_train_with_a_torn_checkpoint_starts_over_and_matches_a_fresh_run(tiny_npz, tmp_path, torn):
    data, sched, model = _setup(tiny_npz)
    fresh = train(model(), data, sched, order_seed=5, progress=False)
    ckpt = tmp_path / "checkpoint.pt"
    # a real checkpoint of another run (other order, after epoch 3), then damaged
    train(model(), data, sched, order_seed=6, checkpoint=ckpt, progress=False)
    whole = torch.load(ckpt, weights_only=False)
    if torn == "garbage":
        ckpt.write_bytes(b"PK\x03\x04 not a checkpoint")
    elif torn == "truncated":
        ckpt.write_bytes(ckpt.read_bytes()[:1000])
    else:
        save_atomic({k: v for k, v in whole.items() if k != "optimizer"}, ckpt)
    m = model()
    again = train(m, data, sched, order_seed=5, checkpoint=ckpt, progress=False)
    assert len(again.history) == 4  # epochs 0-3: all trained, none taken from the checkpoint
    pd.testing.assert_frame_equal(pd.DataFrame(again.history), pd.DataFrame(fresh.history))
    np.testing.assert_array_equal(again.epoch_scores, fresh.epoch_scores)
    for k, v in fresh.train_eval.items():
        assert torch.equal(again.train_eval[k], v), k
    # ... and the checkpoint it left is its own, whole
    assert torch.load(ckpt, weights_only=False)["epoch"] == 3
    assert torch.equal(torch.load(ckpt, weights_only=False)["model"]["fc1.weight"], m.fc1.weight)


def test_a_whole_checkpoint_of_another_model_stops_the_run_with_what_to_do(tiny_npz, tmp_path):
    data, sched, model = _setup(tiny_npz)
    ckpt = tmp_path / "checkpoint.pt"
    wider = build_model(
        "mlp", data.input_shape, 4, hidden=48, turnover=True, mask_seed=0, init_seed=0
    )
    train(wider, data, sched, order_seed=5, checkpoint=ckpt, progress=False)  # another width
    with pytest.raises(MemlibError, match="does not fit this run.*delete it"):
        train(model(), data, sched, order_seed=5, checkpoint=ckpt, progress=False)
