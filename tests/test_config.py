"""RunConfig: its validation, its schedule, its cache key; the ensembles' own parameters."""

import dataclasses

import pytest
import torch

from memlib.config import RunConfig, check_types, ensemble_config, resolve_device
from memlib.errors import MemlibError
from memlib.training import Schedule


def test_bad_values_fail_with_the_parameter_name():
    with pytest.raises(MemlibError, match="epochs"):
        RunConfig(epochs="10")
    with pytest.raises(MemlibError, match="epochs"):
        RunConfig(epochs=0)
    with pytest.raises(MemlibError, match="dataset"):
        RunConfig(dataset="imagenet")
    with pytest.raises(MemlibError, match="bf16"):
        RunConfig(bf16="yes")
    if not torch.cuda.is_available():
        with pytest.raises(MemlibError, match="CUDA is not available"):
            RunConfig(device="cuda")
    with pytest.raises(MemlibError, match="device"):
        RunConfig(device="tpu:x")
    assert RunConfig(lr=1).lr == 1  # an int is a fine float
    with pytest.raises(MemlibError, match="arch"):
        RunConfig(arch="resnet")
    with pytest.raises(MemlibError, match="milestones"):
        RunConfig(epochs=10, milestones=[5, 3])
    with pytest.raises(MemlibError, match="milestones"):
        RunConfig(epochs=10, milestones=[11])
    with pytest.raises(MemlibError, match="optimizer"):
        RunConfig(optimizer="adam")
    with pytest.raises(MemlibError, match="width"):
        RunConfig(arch="vgg11", width=0)
    with pytest.raises(MemlibError, match="n_corrupt=-1"):
        RunConfig(n_corrupt=-1)
    with pytest.raises(MemlibError, match="n_corrupt=11: more than n_train=10"):
        RunConfig(n_train=10, n_corrupt=11)
    with pytest.raises(MemlibError, match="label_noise"):
        RunConfig(label_noise="symmetric")
    with pytest.raises(MemlibError, match="split"):
        RunConfig(split="val")
    assert RunConfig(epochs=10, milestones=[5, 8]).milestones == (5, 8)


def test_check_types_names_the_field_and_the_types():
    @dataclasses.dataclass
    class T:
        a: int
        b: list[int] | None
        c: float

    check_types(T(1, None, 2))
    check_types(T(1, [1, 2], 2.5))
    with pytest.raises(MemlibError, match=r"a=True: expected int, got bool"):
        check_types(T(True, None, 1.0))
    with pytest.raises(MemlibError, match=r"b=\[1, '2'\]"):
        check_types(T(1, [1, "2"], 1.0))
    with pytest.raises(MemlibError, match="c='x'"):
        check_types(T(1, None, "x"))


def test_with_seed_sets_every_stream_but_the_subset():
    cfg = RunConfig(subset_seed=7).with_seed(3)
    assert (cfg.mask_seed, cfg.corrupt_seed, cfg.init_seed, cfg.order_seed) == (3, 3, 3, 3)
    assert cfg.subset_seed == 7  # the data subset is not a seed of the run


def test_schedule_carries_the_optimizer_settings():
    cfg = RunConfig(lr=0.1, epochs=7, batch_size=32, momentum=0.9, milestones=[3, 5], bf16=True)
    assert cfg.schedule() == Schedule(
        lr=0.1, epochs=7, batch_size=32, momentum=0.9, milestones=(3, 5), bf16=True
    )
    assert RunConfig(optimizer="adamw").schedule().optimizer == "adamw"


def test_check_fits():
    RunConfig(n_corrupt=200).check_fits(200)
    with pytest.raises(MemlibError, match="n_corrupt=201 is more than the 200 training examples"):
        RunConfig(n_corrupt=201).check_fits(200)
    with pytest.raises(MemlibError, match="n_train=300 is more than the 200 training examples"):
        RunConfig(n_train=300).check_fits(200)
    RunConfig(n_train=100, n_corrupt=100).check_fits(200)


def test_key_resolves_the_device_and_hashes_an_npz_file(tmp_path):
    assert RunConfig(device="auto").key()["device"] == resolve_device("auto").type
    assert RunConfig(device="cpu").key() == RunConfig(device="cpu").key()
    assert RunConfig(epochs=3).key() != RunConfig(epochs=4).key()
    path = tmp_path / "d.npz"
    path.write_bytes(b"one")
    cfg = RunConfig(dataset=f"npz:{path}")
    first = cfg.key()["npz_sha256"]
    path.write_bytes(b"two")  # the same name, another content: another key
    assert cfg.key()["npz_sha256"] != first
    path.unlink()
    assert cfg.key()["npz_sha256"] is None


def test_ensemble_config_checks_the_estimator_parameters():
    cfg = RunConfig()
    assert ensemble_config(cfg, 4, 0.5, 2) == dataclasses.replace(cfg, turnover=False)
    for args, word in [
        ((4, 1.0, 2), "fraction"),
        ((4, 0.0, 2), "fraction"),
        ((1, 0.5, 2), "n_models=1"),
        ((4, 0.5, 0), "chunk"),
    ]:
        with pytest.raises(MemlibError, match=word):
            ensemble_config(cfg, *args)
    with pytest.raises(MemlibError, match="arch"):
        ensemble_config(RunConfig(arch="vgg11"), 4, 0.5, 2)
    with pytest.raises(MemlibError, match="optimizer"):
        ensemble_config(RunConfig(optimizer="adamw"), 4, 0.5, 2)


def test_mask_design_fits_the_architecture():
    RunConfig(arch="vgg11", mask_last=2, mask_pairs=8, mask_scale=1, conv_bias=False, augment=True)
    RunConfig(arch="mlp", mask_pairs=8)  # paired masks serve every model
    for kw, name in [
        ({"arch": "vgg11", "mask_last": 0}, "mask_last"),
        ({"arch": "vgg11", "mask_last": 9}, "mask_last"),
        ({"arch": "mlp", "mask_last": 2}, "mask_last"),
        ({"arch": "cct", "conv_bias": False}, "conv_bias"),
        ({"arch": "mlp", "mask_scale": 1.0}, "mask_scale"),
        ({"arch": "vgg11", "mask_scale": 0}, "mask_scale"),
        ({"arch": "mlp", "augment": True}, "augment"),
        ({"mask_pairs": -1}, "mask_pairs"),
        ({"eval_every": 0}, "eval_every"),
        ({"probe": 10, "turnover": False}, "probe"),
    ]:
        with pytest.raises(MemlibError, match=name):
            RunConfig(**kw)
