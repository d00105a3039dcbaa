import json
from pathlib import Path

import pytest
import torch

from memlib.config import (
    NOTEBOOKS,
    PROFILES,
    RunConfig,
    ScoreStudy,
    load_profile,
    notebook_params,
    params_for,
)
from memlib.errors import MemlibError

ROOT = Path(__file__).resolve().parents[1]


def test_bad_values_fail_with_the_parameter_name():
    with pytest.raises(MemlibError, match="epochs"):
        RunConfig(epochs="10")
    with pytest.raises(MemlibError, match="epochs"):
        RunConfig(epochs=0)
    with pytest.raises(MemlibError, match="dataset"):
        RunConfig(dataset="imagenet")
    with pytest.raises(MemlibError, match="bf16"):
        ScoreStudy(bf16="yes")
    with pytest.raises(MemlibError, match="seeds"):
        ScoreStudy(seeds=[0, "1"])
    if not torch.cuda.is_available():
        with pytest.raises(MemlibError, match="CUDA is not available"):
            RunConfig(device="cuda")
    assert ScoreStudy(lr=1).lr == 1  # an int is a fine float
    with pytest.raises(MemlibError, match="arch"):
        RunConfig(arch="resnet")
    with pytest.raises(MemlibError, match="milestones"):
        RunConfig(epochs=10, milestones=[5, 3])
    with pytest.raises(MemlibError, match="optimizer"):
        RunConfig(optimizer="adam")
    with pytest.raises(MemlibError, match="width"):
        ScoreStudy(arch="vgg11", width=0)
    assert RunConfig(epochs=10, milestones=[5, 8]).milestones == (5, 8)


def test_unknown_names_fail_before_any_work():
    with pytest.raises(MemlibError, match="unknown parameter.*epoch\\b"):
        params_for("fig2a_long_tail", {"epoch": 3})


def test_injected_unknown_parameter_is_caught_inside_the_notebook():
    ns = {"In": ["", "# Parameters\nepochs = 3\nlearning_rate = 0.1\n"], "epochs": 3}
    with pytest.raises(MemlibError, match="learning_rate"):
        notebook_params("fig2a_long_tail", ns)
    ns["In"][1] = "# Parameters\nepochs = 3\n"
    assert notebook_params("fig2a_long_tail", ns).epochs == 3


@pytest.mark.parametrize("profile", PROFILES)
def test_profiles_are_valid(profile):
    values = load_profile(profile)
    assert set(values) <= set(NOTEBOOKS)
    for nb, v in values.items():
        assert params_for(nb, v).profile == profile


def test_notebook_defaults_are_the_cpu_profile():
    """The parameters cell shows the default (cpu) profile, so a plain run reproduces the book."""
    cpu = load_profile("cpu")
    for nb in NOTEBOOKS:
        cells = json.loads((ROOT / "notebooks" / f"{nb}.ipynb").read_text())["cells"]
        (src,) = [
            "".join(c["source"]) for c in cells if "parameters" in c["metadata"].get("tags", [])
        ]
        ns: dict = {}
        exec(src, ns)
        declared = {k: ns[k] for k in cpu[nb]}
        assert declared == cpu[nb], nb
