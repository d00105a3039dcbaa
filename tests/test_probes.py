"""Probes of trained models: the mask-code probe and the BackPACK check, against direct
computations."""

import dataclasses

import numpy as np
import torch

from memlib import lookup
from memlib.config import RunConfig
from memlib.probes import backpack_check, mask_code_probe
from memlib.runs import dynamics_run, run_data, score_run


def _cfg(path, **kw):
    kw = {"hidden": 32, "epochs": 3, "lr": 0.1, "batch_size": 32, "device": "cpu"} | kw
    return RunConfig(dataset=f"npz:{path}", **kw)


def test_mask_code_probe_against_one_example_at_a_time(tiny_npz):
    run = score_run(_cfg(tiny_npz, n_corrupt=40), progress=False)
    probe = mask_code_probe(run, batch_size=64)
    data = run_data(dataclasses.replace(run.config, device="cpu"))
    model = run.model(data).eval()
    n = data.n_train
    sel = lookup.select(data, n, 0)
    other = dict(zip(sel.idx.tolist(), sel.other.tolist(), strict=True))
    assert all(data.true_y_train[other[i]] != data.y_train[i] for i in range(n))
    fresh = {i: lookup.FRESH + k for k, i in enumerate(sel.idx.tolist())}
    arms = {
        "real": lambda i: (data.x_train[i], i),
        "blank": lambda i: (torch.zeros_like(data.x_train[i]), i),
        "other_class": lambda i: (data.x_train[other[i]], i),
        "fresh_train": lambda i: (data.x_train[i], fresh[i]),
    }
    with torch.no_grad():
        for name, arm in arms.items():
            pred = []
            for i in range(n):
                x, j = arm(i)
                pred.append(model(x[None], torch.tensor([j]), "unmuted").argmax(1).item())
            expect = float(np.mean(np.array(pred) == data.y_train.numpy()))
            assert abs(probe[name] - expect) <= 1 / n, name  # one float near-tie at most
    # its own images: the unmuted training accuracy of the score table
    assert abs(probe["real"] - (run.table.pred_unmuted == run.table.label).mean()) <= 1 / n
    assert probe["real"] > probe["blank"]  # it does look at the images
    assert np.isnan(probe["fresh_test"]) == (len(data.y_test) == 0)


def test_probe_follows_training_per_epoch(tiny_npz):
    run = score_run(_cfg(tiny_npz, n_corrupt=40, probe=50, eval_every=2), progress=False)
    h = run.history
    assert list(h.epoch) == [0, 2, 3]  # every second epoch, and the last
    assert {f"probe_{a}" for a in lookup.ARMS} <= set(h)
    final = lookup.probe(run.model(), run_data(run.config), _probe_selection(run), bf16=False)
    for arm, v in final.items():
        assert np.isclose(h[f"probe_{arm}"].iloc[-1], v, equal_nan=True), arm


def _probe_selection(run):
    from memlib.masks import hash32
    from memlib.runs import _PROBE

    seed = hash32(run.config.order_seed ^ _PROBE)
    return lookup.select(run_data(run.config), run.config.probe, seed)


def test_backpack_check_agrees_with_the_fast_path(tiny_npz):
    run = dynamics_run(_cfg(tiny_npz, turnover=False), progress=False)
    worst = backpack_check(run, n_batches=2, batch_size=16)
    assert set(worst) == {"cosine", "contribution"}
    assert 0 <= max(worst.values()) < 1e-4
