"""The natural-memorization pages' parameters: every profile loads, bad values fail in one
line before any work; the paper profile's cost estimate adds up."""

import pytest

from memlib import params
from memlib.errors import MemlibError
from memlib.natural import nets
from memlib.natural.pages import PAGES, base, size


@pytest.mark.parametrize("profile", params.PROFILES)
def test_every_profile_gives_every_page_the_same_parameters(profile):
    values = params.load_profile(profile)
    studies = [params.params_for(page, values[page]) for page in PAGES]
    assert all(s == studies[0] for s in studies)


def _cpu(**change):
    v = params.load_profile("smoke")["natural_size"] | change
    return params.params_for("natural_size", v)


@pytest.mark.parametrize(
    "change,message",
    [
        ({"families": {"vgg": [1]}, "lr": {"vgg": 0.1}, "mid": {"vgg": 1}}, "bad family"),
        ({"families": {"mlp1": [8, 2], "cnn": [2, 4]}}, "increasing"),
        ({"mid": {"mlp1": 5, "cnn": 2}}, "mid width"),
        ({"others": ["svhn"]}, "not a dataset"),
        ({"dataset": "cifar100"}, "dataset"),
        ({"other_family": "mlp2"}, "not a family"),
        ({"fraction": 1.0}, "fraction"),
        ({"ladder": [4]}, "at least 8"),
        ({"n_train": 5}, "n_train"),
        ({"planted": 1000}, "planted"),
        ({"families": "mlp1"}, "expected"),
    ],
)
def test_bad_parameters_fail_in_one_line(change, message):
    with pytest.raises(MemlibError, match=message) as e:
        _cpu(**change)
    assert "\n" not in str(e.value)


def test_long_tailed_name_maps_to_its_data_spec():
    p = _cpu()
    d = base.data_spec(p, "fashion-mnist-lt", planted=3)
    assert (d.dataset, d.ratio, d.planted, d.seed) == ("fashion-mnist", p.tail_ratio, 3, p.seed)
    assert base.data_spec(p).ratio == 1.0


def test_cost_estimate_counts_training_and_evaluation():
    p = _cpu()
    c = size.cost(p, in_shape=(1, 28, 28), n_train=100, n_test=50, tflops=1.0)
    f = nets.flops("mlp1", 2, (1, 28, 28), 10)
    train = 3 * f * p.fraction * 100 * p.epochs * p.n_models
    evals = f * 150 * (p.epochs + 1) * p.n_models
    row = c[(c.family == "mlp1") & (c.width == 2)].iloc[0]
    assert row.PFLOP == pytest.approx((train + evals) / 1e15)
    assert row["GPU hours"] == pytest.approx((train + evals) / 1e12 / 3600)
