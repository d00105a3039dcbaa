"""memlib.arpit.capacity: stacks of MLPs trained until they fit, and their per-member summary."""

import numpy as np
import pandas as pd
import pytest
import torch

from memlib.arpit import capacity as cap
from memlib.arpit.ensemble import init_stack
from memlib.arpit.pages.capacity import CapacityStudy, fit_table
from memlib.arpit.train import Recipe
from memlib.errors import MemlibError


def test_first_fit_is_the_first_epoch_at_100_percent():
    epochs = np.arange(6)
    assert cap.first_fit(np.array([0.1, 0.5, 0.99, 1.0, 0.98, 1.0]), epochs) == 3
    assert np.isnan(cap.first_fit(np.array([0.1, 0.5, 0.99, 0.999, 0.98, 0.9]), epochs))


def test_summarize_against_a_hand_made_history():
    rows = []
    for e in range(5):  # real fits at epoch 2, randX never
        rows.append(("real", 0.0, 0, e, [0.2, 0.8, 1.0, 1.0, 1.0][e], 0.5 + 0.1 * e))
        rows.append(("randX", 0.8, 0, e, 0.2 * e, 0.3 + 0.01 * e))
    h = pd.DataFrame(rows, columns=["kind", "fraction", "seed", "epoch", "train_acc", "val_acc"])
    s = cap.summarize(h).set_index("kind")
    assert s.loc["real", "fit_epoch"] == 2 and not s.loc["real", "censored"]
    assert s.loc["real", "val_acc"] == pytest.approx(0.7)  # at the fit epoch, not the last
    assert np.isnan(s.loc["randX", "fit_epoch"]) and s.loc["randX", "censored"]
    assert s.loc["randX", "val_acc"] == pytest.approx(0.34)  # at the last epoch
    assert s.loc["randX", "last_epoch"] == 4


def test_stack_stops_once_every_member_fits(tiny_npz, monkeypatch):
    cap._data.cache_clear()
    st = cap.Stack(32, 100, (("real", 0.0), ("randX", 0.5)), (0, 1))
    h = cap.train_stack(st, Recipe(epochs=200, lr=0.1, momentum=0.9, batch_size=25),
                        dataset=f"npz:{tiny_npz}", n_val=10)  # fmt: skip
    assert len(h) == 4 * (h.epoch.max() + 1)  # every member at every epoch, 0 included
    s = cap.summarize(h)
    assert not s.censored.any()  # the quadrants, and 50 noise images, fit easily
    assert h.epoch.max() == s.fit_epoch.max() < 200  # stopped at the last member's fit
    # A seed's conditions start from one initialization; the seeds from different ones.
    w = init_stack(64, (st.width, st.width), 4, [s for _, _, s in st.members()])[0][0]
    same = [i for i, (_, _, s) in enumerate(st.members()) if s == 0]
    other = next(i for i, (_, _, s) in enumerate(st.members()) if s == 1)
    assert len(same) == 2 and torch.equal(w[same[0]], w[same[1]])
    assert not torch.equal(w[same[0]], w[other])
    cap._data.cache_clear()


def test_stack_censors_members_that_never_fit(tiny_npz):
    cap._data.cache_clear()
    st = cap.Stack(4, 200, (("randY", 1.0),), (0,))
    h = cap.train_stack(st, Recipe(epochs=3, lr=0.01, batch_size=50),
                        dataset=f"npz:{tiny_npz}", n_val=10)  # fmt: skip
    s = cap.summarize(h)
    assert h.epoch.max() == 3 and s.censored.all() and np.isnan(s.fit_epoch).all()
    cap._data.cache_clear()


def _study(**changes):
    values = dict(profile="smoke", seeds=[0], widths=[8, 16, 32], n_train=100, randx=[0.8],
                  randy=[0.8], size_width=16, sizes=[50, 100, 200], size_randx=[0.8], n_val=100,
                  epochs=5, lr=0.1, momentum=0.9, batch_size=50)  # fmt: skip
    return CapacityStudy(**(values | changes))


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"widths": [8, 16]}, "widths"),
        ({"sizes": [100, 50, 200]}, "sizes"),
        ({"randx": [0.0]}, "randx"),
        ({"randy": []}, "randy"),
        ({"momentum": 1.0}, "momentum"),
        ({"epochs": 0}, "epochs"),
        ({"dataset": "svhn"}, "dataset"),
    ],
)
def test_study_rejects_bad_values_in_one_line(changes, message):
    with pytest.raises(MemlibError, match=message) as e:
        _study(**changes)
    assert "\n" not in str(e.value)


def test_study_describes_itself():
    p = _study()
    assert set(p.describe()) == set(p.describe(short=True)) == {"data", "model", "epochs"}
    assert p.recipe().epochs == 5


def test_fit_table_says_never_for_censored_members():
    row = dict(kind="real", fraction=0.0, width=8, n_train=100)
    w = pd.DataFrame([row | {"seed": 0, "fit_epoch": 3.0, "censored": False},
                      row | {"seed": 1, "fit_epoch": np.nan, "censored": True}])  # fmt: skip
    runs = type("R", (), {"widths": w, "sizes": w})()  # both sweeps
    t = fit_table(runs)
    assert t.loc["width 8", "real"] == "3.0; never in 1 of 2 seeds"
