"""Probes of trained models: the mask-code probe and the BackPACK check, against direct
computations."""

import dataclasses

import numpy as np
import torch

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
    images = {
        "real": lambda i: data.x_train[i],
        "blank": lambda i: torch.zeros_like(data.x_train[i]),
        "swapped": lambda i: data.x_train[(i - 1) % n],  # the previous example's image
    }
    with torch.no_grad():
        for name, image in images.items():
            pred = [
                model(image(i)[None], torch.tensor([i]), "unmuted").argmax(1).item()
                for i in range(n)
            ]
            expect = float(np.mean(np.array(pred) == data.y_train.numpy()))
            assert abs(probe[name] - expect) <= 1 / n, name  # one float near-tie at most
    # its own images: the unmuted training accuracy of the score table
    assert abs(probe["real"] - (run.table.pred_unmuted == run.table.label).mean()) <= 1 / n
    assert probe["real"] > probe["blank"]  # it does look at the images


def test_backpack_check_agrees_with_the_fast_path(tiny_npz):
    run = dynamics_run(_cfg(tiny_npz, turnover=False), progress=False)
    worst = backpack_check(run, n_batches=2, batch_size=16)
    assert set(worst) == {"cosine", "contribution"}
    assert 0 <= max(worst.values()) < 1e-4
