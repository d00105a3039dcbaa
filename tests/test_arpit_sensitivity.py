"""memlib.arpit.sensitivity: the unrolled loss sensitivity against finite differences, the Gini
coefficient against known answers and a slow reference, and the page's per-class matrices."""

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from memlib.arpit import sensitivity as sens
from memlib.arpit.pages.sensitivity import SensitivityStudy
from memlib.errors import MemlibError


def _tiny(seed=0, n=6, d=5, c=3):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.arange(n) % c
    params = [p.double() for p in sens.initial_params(d, (4,), c, seed)]
    order = sens.batch_order(n, 2, 5, seed)
    return x, y, params, order


def _loss_after(x, x_eval, y, params, order, lr, t, mask=None):
    """L_t(y=i) summed over the classes in ``mask`` (all: L_t), by plain SGD on x, evaluated on
    x_eval: the slow, obvious reference."""
    theta = [p.clone().requires_grad_(True) for p in params]
    for b in order[:t]:
        loss = F.cross_entropy(sens.forward(theta, x[b]), y[b])
        grads = torch.autograd.grad(loss, theta)
        theta = [
            (p - lr * d).detach().requires_grad_(True) for p, d in zip(theta, grads, strict=True)
        ]
    losses = F.cross_entropy(sens.forward(theta, x_eval), y, reduction="none")
    keep = torch.ones_like(losses) if mask is None else mask.double()
    return float((losses * keep).sum().detach() / len(y))


def test_unrolled_gradient_matches_central_finite_differences():
    x, y, params, order = _tiny()
    lr, grid = 0.5, [3, 5]
    out = sens.unrolled_sensitivity(x, y, params, order, lr, grid, 3)
    eps = 1e-6
    for k, t in enumerate(grid):
        for i in (None, 1):  # the total loss, and the loss of class 1 alone
            mask = None if i is None else y == i
            fd = torch.zeros_like(x)
            for n in range(len(y)):
                for j in range(x.shape[1]):
                    xp, xm = x.clone(), x.clone()
                    xp[n, j] += eps
                    xm[n, j] -= eps
                    # x moves only inside the updates; L_t's own inputs stay at x (detached)
                    fd[n, j] = (
                        _loss_after(xp, x, y, params, order, lr, t, mask)
                        - _loss_after(xm, x, y, params, order, lr, t, mask)
                    ) / (2 * eps)
            want = fd.abs().sum(1).numpy()
            got = out["g"][k] if i is None else out["per_class"][k, i]
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-9)
    assert (out["per_class"].sum(1) >= out["g"] - 1e-12).all()  # the triangle inequality


def test_examples_not_yet_trained_on_have_zero_sensitivity():
    x, y, params, _ = _tiny()
    order = torch.tensor([[0, 1], [2, 3], [4, 5]])
    out = sens.unrolled_sensitivity(x, y, params, order, 0.5, [1, 2, 3], 3)
    assert (out["g"][0, 2:] == 0).all() and (out["g"][0, :2] > 0).all()
    assert (out["g"][1, 4:] == 0).all() and (out["g"][2] > 0).all()


def test_batch_order_is_epochs_of_permutations():
    order = sens.batch_order(10, 4, 5, seed=3)
    assert order.shape == (5, 4)
    flat = order.flatten()
    assert sorted(flat[:10].tolist()) == list(range(10))
    assert sorted(flat[10:20].tolist()) == list(range(10))
    assert torch.equal(order, sens.batch_order(10, 4, 5, seed=3))


def test_grid_starts_after_one_epoch_and_ends_at_the_last_step():
    assert sens.grid_steps(800, 100, 50) == [50, 150, 250, 350, 450, 550, 650, 750, 800]
    assert sens.grid_steps(60, 10, 10) == [10, 20, 30, 40, 50, 60]


def _gini_slow(v):
    v = np.asarray(v, dtype=np.float64)
    return np.abs(v[:, None] - v[None, :]).sum() / (2 * len(v) ** 2 * v.mean())


def test_gini_known_answers_and_slow_reference():
    assert sens.gini(np.full(7, 3.0)) == pytest.approx(0.0, abs=1e-12)
    for n in (2, 5, 100):
        v = np.zeros(n)
        v[n // 2] = 4.0
        assert sens.gini(v) == pytest.approx((n - 1) / n)
    rng = np.random.default_rng(0)
    for _ in range(5):
        v = rng.exponential(size=rng.integers(2, 200))
        assert sens.gini(v) == pytest.approx(_gini_slow(v), rel=1e-10)
    assert np.isnan(sens.gini(np.zeros(4)))


def test_running_gini_averages_up_to_each_step():
    g = np.array([[1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(sens.running_gini(g), [0.5, 0.0], atol=1e-12)


def test_class_matrix_averages_steps_then_examples_of_each_class():
    per_class = np.zeros((2, 2, 3))
    per_class[0, 0] = [1.0, 3.0, 5.0]
    per_class[1, 0] = [3.0, 5.0, 7.0]
    per_class[:, 1] = 1.0
    m = sens.class_matrix(per_class, np.array([0, 0, 1]), 2)
    np.testing.assert_allclose(m, [[3.0, 6.0], [1.0, 1.0]])


def test_study_checks_values_before_any_work():
    base = {"profile": "smoke", "seeds": [0]}
    assert SensitivityStudy(**base, widths=[16, 16]).describe(short=True)["model"] == "MLP 16×16"
    with pytest.raises(MemlibError, match="n_steps"):
        SensitivityStudy(**base, n_train=1000, batch_size=10, n_steps=50)
    with pytest.raises(MemlibError, match="widths"):
        SensitivityStudy(**base, widths=[16, 0])
    with pytest.raises(MemlibError, match="lr"):
        SensitivityStudy(**base, lr=0.0)
