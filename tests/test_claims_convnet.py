"""The conv-net grid's claim check and its selection rule, on synthetic runs."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from claims_fixtures import score_run

from memlib import claims
from memlib.claims.convnet import grid_table, select_setting


def _run(auc_good, blank, seed=0, n_train=100, epochs=10, width=0.25, other=0.1, **cfg):
    """A planted-label scoring run: 10 of 100 corrupted; their scores on top if ``auc_good``."""
    corrupted = np.arange(100) < 10
    scores = np.where(corrupted, 1.0, 0.0) if auc_good else np.zeros(100)
    r = score_run(scores, corrupted, muted=0.5)
    r.history = r.history.assign(test_acc=[0.1, 0.5], probe_blank=[0.1, blank],
                                 probe_other_class=[0.1, other], probe_fresh_train=0.3,
                                 probe_fresh_test=0.3)  # fmt: skip
    r.config = SimpleNamespace(init_seed=seed, epochs=epochs, width=width, n_train=n_train, **cfg)
    return r


def _table(rows):
    return pd.DataFrame(rows, columns=["point", "auc", "lookup", "cost"])


def test_selection_takes_the_cheapest_working_point_without_lookup():
    t = _table([("a", 0.9, 0.5, 1.0), ("b", 0.86, 0.1, 2.0), ("c", 0.95, 0.1, 3.0),
                ("d", 0.87, 0.12, 2.0)])  # fmt: skip
    assert select_setting(t, chance=0.1) == ("d", "works")  # cost 2: the higher AUC of b, d
    t = _table([("a", 0.8, 0.1, 1.0), ("b", 0.78, 0.1, 0.5), ("c", 0.99, 0.9, 1.0)])
    assert select_setting(t, chance=0.1) == ("a", "usable")  # none works: the best usable
    t = _table([("a", 0.7, 0.1, 1.0), ("c", 0.99, 0.9, 1.0)])
    assert select_setting(t, chance=0.1) == (None, "none")  # c looks its labels up
    seeds = _table([("a", 0.9, 0.1, 1.0), ("a", 0.9, 0.2, 1.0), ("b", 0.8, 0.1, 1.0)])
    assert select_setting(seeds, chance=0.1) == ("b", "usable")  # a's second seed: a lookup


@pytest.mark.parametrize(
    "good, blank, control_good, verdict",
    [
        (True, 0.1, True, claims.HOLDS),
        (False, 0.1, True, claims.PARTLY),
        (True, 0.5, True, claims.PARTLY),
        (False, 0.8, True, claims.FAILS),
        (True, 0.1, False, claims.UNTESTABLE),
    ],
)
def test_convnet_scores_verdicts(good, blank, control_good, verdict):
    points = {"paper": [_run(good, blank), _run(good, blank, seed=1)],
              "pairs": [_run(True, 0.1), _run(True, 0.1, seed=1)]}  # fmt: skip
    control = [_run(control_good, 0.1), _run(control_good, 0.1, seed=1)]
    check = claims.convnet_scores(points, control, "paper")
    assert check.verdict == verdict
    note = check.notes[0]
    assert note.passed and note.value.startswith("pairs" if not (good and blank <= 0.15) else "")


def test_a_lookup_blind_to_blank_images_is_caught_by_the_other_class_arm():
    points = {"paper": [_run(True, 0.1, other=0.9)]}  # no biases: a blank image says nothing
    check = claims.convnet_scores(points, [_run(True, 0.1)], "paper")
    assert not check.parts[1].passed and check.verdict == claims.PARTLY
    assert select_setting(grid_table(points), chance=0.1) == (None, "none")


def test_convnet_scores_judges_every_seed_and_reports_the_pages_setting():
    points = {"paper": [_run(True, 0.1), _run(False, 0.1, seed=1)]}
    control = [_run(True, 0.1)]
    assert claims.convnet_scores(points, control, "paper").verdict == claims.PARTLY
    same = SimpleNamespace(**vars(points["paper"][0].config))
    check = claims.convnet_scores(points, control, "paper", used=same)
    assert check.notes[-1].name == "the CIFAR-10 pages use it" and check.notes[-1].passed
    other = SimpleNamespace(**(vars(same) | {"width": 0.5}))
    assert not claims.convnet_scores(points, control, "paper", used=other).notes[-1].passed


def test_grid_table_cost_is_relative_to_the_first_point():
    t = grid_table({"a": [_run(True, 0.1)], "b": [_run(True, 0.1, width=0.5, n_train=100)]})
    assert list(t.cost) == [1.0, 4.0] and list(t.auc) == [1.0, 1.0]
    assert t.blank.tolist() == [0.1, 0.1]


def test_summary_sorts_the_points_by_lookup_fit_and_auc():
    t = pd.DataFrame(
        {"point": ["a", "b", "c", "d"], "auc": [0.5, 0.7, 0.8, 0.6],
         "lookup": [0.9, 0.1, 0.1, 0.1], "unmuted": [1.0, 0.9, 0.9, 0.2]}
    )  # fmt: skip
    text = claims.convnet.summary(t, chance=0.1)
    assert "above 0.15): *a*." in text and "below 0.5): *d*." in text
    assert text.endswith("*c* 0.800, *b* 0.700.")
