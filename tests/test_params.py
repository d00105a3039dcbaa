"""The notebooks' parameters: studies, profiles, and the checks that fail before any work."""

import dataclasses
import json
from pathlib import Path

import pytest

from memlib.config import RunConfig
from memlib.errors import MemlibError
from memlib.params import (
    NOTEBOOKS,
    PROFILES,
    GroundTruthStudy,
    PartitionStudy,
    ScoreStudy,
    field_notes,
    load_profile,
    notebook_params,
    params_for,
)

ROOT = Path(__file__).resolve().parents[1]


def study(notebook: str, profile: str = "smoke", **changes):
    """A notebook's parameters: the profile's values, ``changes`` on top."""
    return params_for(notebook, load_profile(profile)[notebook] | changes)


def test_bad_values_fail_with_the_parameter_name():
    with pytest.raises(MemlibError, match="bf16"):
        study("fig2a_long_tail", bf16="yes")
    with pytest.raises(MemlibError, match="seeds"):
        study("fig2a_long_tail", seeds=[0, "1"])
    with pytest.raises(MemlibError, match="seeds=\\[\\]"):
        study("fig2a_long_tail", seeds=[])
    with pytest.raises(MemlibError, match="profile='gpu'"):
        params_for("fig2a_long_tail", load_profile("smoke")["fig2a_long_tail"] | {"profile": "gpu"})
    assert study("fig2a_long_tail", lr=1).lr == 1  # an int is a fine float
    with pytest.raises(MemlibError, match="width"):  # the run settings are checked too
        study("fig2a_long_tail", arch="vgg11", width=0)
    with pytest.raises(MemlibError, match="n_corrupt"):
        study("fig2b_random_labels", n_corrupt=5000)  # more than n_train = 2000


def test_unknown_names_fail_before_any_work():
    with pytest.raises(MemlibError, match="unknown parameter.*epoch\\b"):
        params_for("fig2a_long_tail", {"epoch": 3})
    with pytest.raises(MemlibError, match="takes no parameters"):
        params_for("reproducing", {"epochs": 3})
    assert params_for("reproducing", {}) is None


def test_a_study_value_missing_from_the_profile_fails():
    values = load_profile("smoke")["fig3_random_label_dynamics"]
    for name in ("n_subset", "grad_every", "n_grad_batches", "seeds", "profile"):
        with pytest.raises(MemlibError, match=f"needs parameter\\(s\\) {name}: add them"):
            params_for("fig3_random_label_dynamics", {k: v for k, v in values.items() if k != name})
    # run settings are optional: without one, RunConfig's default
    without = {k: v for k, v in values.items() if k != "momentum"}
    assert params_for("fig3_random_label_dynamics", without).config(0).momentum == 0.0
    # the study classes themselves have no defaults for their own values
    with pytest.raises(TypeError):
        ScoreStudy(profile="smoke")


def test_config_is_the_run_of_one_seed_with_changes():
    p = study("fig2b_random_labels", epochs=5)
    cfg = p.config(3)
    assert cfg == RunConfig(
        dataset="mnist",
        n_train=2000,
        n_corrupt=667,
        hidden=256,
        epochs=5,
        lr=0.06,
        batch_size=256,
        bf16=False,
    ).with_seed(3)
    assert p.config(3, turnover=False) == dataclasses.replace(cfg, turnover=False)
    assert study("fig5cd_easy_difficult_cifar").config(0).milestones == (1,)


def test_injected_unknown_parameter_is_caught_inside_the_notebook():
    ns = {"In": ["", "# Parameters\nepochs = 3\nlearning_rate = 0.1\n"], "epochs": 3}
    with pytest.raises(MemlibError, match="learning_rate"):
        notebook_params("fig2a_long_tail", ns)
    ns["In"][1] = "# Parameters\nepochs = 3\n"
    p = notebook_params("fig2a_long_tail", ns)
    assert p.epochs == 3 and p.profile == "cpu"  # the rest: the default (cpu) profile
    assert p.seeds == load_profile("cpu")["fig2a_long_tail"]["seeds"]
    smoke = notebook_params("fig2a_long_tail", {"profile": "smoke"})
    assert smoke == study("fig2a_long_tail")


@pytest.mark.parametrize("profile", PROFILES)
def test_profiles_are_valid(profile):
    values = load_profile(profile)
    assert set(values) == set(NOTEBOOKS)
    for nb, v in values.items():
        p = params_for(nb, v)
        assert p.profile == profile and isinstance(p, NOTEBOOKS[nb])


def test_unknown_profile():
    with pytest.raises(MemlibError, match="unknown profile 'gpu'"):
        load_profile("gpu")


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
        declared = {k: ns[k] for k in cpu[nb] if k in ns}
        assert declared == {k: cpu[nb][k] for k in declared}, nb
        assert declared.get("profile", "cpu") == "cpu", nb


def test_study_parameters_fail_early():
    with pytest.raises(MemlibError, match="n_subset"):
        study("fig3_random_label_dynamics", n_corrupt=100, n_subset=200)
    with pytest.raises(MemlibError, match="n_subset"):  # 1900 corrupted, only 100 clean
        study("fig3_random_label_dynamics", n_corrupt=1900, n_subset=200)
    with pytest.raises(MemlibError, match="grad_every"):
        study("fig3_random_label_dynamics", grad_every=0)
    with pytest.raises(MemlibError, match="fraction"):
        study("fig5ab_easy_difficult", fraction=0.9)
    with pytest.raises(MemlibError, match="milestones"):
        study("fig5ab_easy_difficult", train_epochs=10, train_milestones=[20])
    with pytest.raises(MemlibError, match="levels"):
        study("fig10_corruption_levels", levels=[0.0, 1.5])
    with pytest.raises(MemlibError, match="levels"):
        study("fig10_corruption_levels", levels=[])
    p = study("fig3_random_label_dynamics", epochs=23, grad_every=5)
    assert p.grad_epochs() == (*range(11), 15, 20, 23)
    assert study("fig3_random_label_dynamics", epochs=4, grad_every=3).grad_epochs() == (
        0,
        1,
        2,
        3,
        4,
    )


def test_ground_truth_parameters_fail_early():
    for kw, word in [
        (dict(fraction=1.0), "fraction"),
        (dict(n_models=1), "n_models"),
        (dict(n_models=7), "even"),
        (dict(chunk=0), "chunk"),
        (dict(top=0.9), "top"),
        (dict(n_bootstrap=5), "n_bootstrap"),
        (dict(n_corrupt=2000), "n_corrupt"),
        (dict(arch="vgg11"), "arch"),
        (dict(optimizer="adamw"), "optimizer"),
    ]:
        with pytest.raises(MemlibError, match=word):
            study("fz_ground_truth", **kw)


def test_same_data_for_every_seed():
    """The ground truth and every turn-over run see the same random labels."""
    p = study("fz_ground_truth", seeds=[3, 4])
    assert isinstance(p, GroundTruthStudy)
    a, b, g = p.turnover(3, 100), p.turnover(4, 100), p.ensemble(100)
    assert a.corrupt_seed == b.corrupt_seed == g.corrupt_seed == p.data_seed
    assert a.n_corrupt == b.n_corrupt == g.n_corrupt == 100
    assert a.init_seed != b.init_seed and not g.turnover and a.turnover
    assert dataclasses.replace(a, turnover=False, mask_seed=3) == dataclasses.replace(
        g, mask_seed=3, init_seed=3, order_seed=3
    )  # the same recipe: only the seeds and turn-over differ


def test_followed_run_of_a_partition_study():
    p = study("fig5cd_easy_difficult_cifar", train_epochs=4, train_milestones=[2])
    f = p.followed(1)
    assert (f.turnover, f.epochs, f.milestones, f.init_seed) == (False, 4, (2,), 1)
    assert p.config(1).turnover and p.config(1).epochs == 2


def test_field_notes_are_the_field_comments():
    notes = field_notes(GroundTruthStudy)
    assert notes["n_models"] == "Feldman-Zhang models (k)"
    assert notes["seeds"].startswith("turn-over runs")  # the subclass's own comment wins
    assert field_notes(ScoreStudy)["seeds"].startswith("one run")  # from the base class Study
    assert notes["epochs"] == "training epochs"  # from RunSettings
    assert field_notes(PartitionStudy)["epochs"].startswith("epochs of the scoring runs")
    for cls in set(NOTEBOOKS.values()):
        fields = {f.name for f in dataclasses.fields(cls)}
        assert fields <= set(field_notes(cls)), cls.__name__  # every parameter explained


def test_grid_points_fail_early_and_name_the_base():
    g = study("convnet_scores")
    assert g.base() == "paper design" and g.point("paper design", 0) == g.config(0)
    assert g.point("last 2 layers", 1).mask_last == 2 and g.point("control", 0).arch == "mlp"
    for changes, words in [
        ({"grid": {"a": {}, "b": {"mask_lats": 2}}}, "unknown setting"),
        ({"grid": {"a": {"mask_last": 9}}}, "mask_last"),
        ({"grid": {"a": {"mask_last": 2}}}, "exactly one point"),
        ({"grid": {}}, "at least one"),
        ({"planted": 1.0}, "planted"),
        ({"control": {"arch": "mlp", "mask_last": 2}}, "mask_last"),
    ]:
        with pytest.raises(MemlibError, match=words):
            study("convnet_scores", **changes)


def test_cifar_pages_twins_match_the_grids_point():
    """The planted-label twin of the CIFAR-10 pages' scoring run is the config of a grid point:
    the pages are served from the grid page's runs."""
    from memlib import recipes

    for profile in ("smoke", "cpu"):
        twin = recipes.pages_setting(profile)
        g = study("convnet_scores", profile)
        points = [dataclasses.replace(g.point(n, 0), n_corrupt=twin.n_corrupt) for n in g.grid]
        assert twin in points, profile
        for page in ("fig6_informative_difficult", "fig8_gallery_cifar"):  # one setting for all
            assert recipes.twin_config(study(page, profile), 0) == twin, (page, profile)


def test_a_chapter_profile_file_adds_its_pages_and_may_not_repeat_one(tmp_path, monkeypatch):
    import memlib.params as params

    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu.yml").write_text("a_page:\n  seeds: [0]\n")
    (tmp_path / "cpu" / "chapter.yml").write_text("b_page:\n  seeds: [1]\n")
    monkeypatch.setattr(params, "PROFILES_DIR", tmp_path)
    monkeypatch.setattr(params, "params_for", lambda nb, v: None)
    assert params.load_profile("cpu") == {"a_page": {"profile": "cpu", "seeds": [0]},
                                          "b_page": {"profile": "cpu", "seeds": [1]}}  # fmt: skip
    (tmp_path / "cpu" / "other.yml").write_text("a_page:\n  seeds: [2]\n")
    with pytest.raises(MemlibError, match="a_page given twice"):
        params.load_profile("cpu")
