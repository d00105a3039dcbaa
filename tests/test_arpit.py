"""memlib.arpit's shared parts: data conditions, networks, training, the MLP stack, LASS."""

import copy

import pytest
import torch
from torch.nn import functional as F

from memlib.arpit import conditions, ensemble, nets
from memlib.arpit.lass import critical_ratio, lass
from memlib.arpit.train import ADV_LASS, Recipe, fit, predict
from memlib.data import corrupt_labels
from memlib.errors import MemlibError
from memlib.training import epoch_order


def _data(n=64, d=12, c=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    return x, (x[:, :c].argmax(1))


def test_randy_draws_uniform_labels_true_class_allowed():
    y = torch.arange(10).repeat(1000)
    x = torch.zeros(len(y), 2)
    x2, y2, noisy = conditions.apply(x, y, conditions.Condition("randY", 0.5, seed=3), 10)
    assert x2 is x and int(noisy.sum()) == 5000
    assert torch.equal(y2[~noisy], y[~noisy])
    kept = (y2[noisy] == y[noisy]).float().mean()  # the paper's convention: 1 in 10 keep theirs
    assert 0.08 < kept < 0.12
    counts = torch.bincount(y2[noisy], minlength=10).float() / 5000
    assert counts.min() > 0.08 and counts.max() < 0.12


def test_randx_matches_each_channels_mean_and_variance():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4000, 2, 4, 4, generator=g) * torch.tensor([1.0, 3.0]).view(1, 2, 1, 1)
    x = x + torch.tensor([5.0, -2.0]).view(1, 2, 1, 1)
    y = torch.zeros(4000, dtype=torch.long)
    x2, y2, noisy = conditions.apply(x, y, conditions.Condition("randX", 0.25, seed=1), 10)
    assert int(noisy.sum()) == 1000 and torch.equal(y2, y) and torch.equal(x2[~noisy], x[~noisy])
    z = x2[noisy]
    assert torch.allclose(z.mean((0, 2, 3)), x.mean((0, 2, 3)), atol=0.1)  # 4 standard errors
    assert torch.allclose(z.std((0, 2, 3)), x.std((0, 2, 3)), atol=0.1)
    assert not torch.equal(z, x[noisy])  # new pixels, not the old ones


def test_the_conditions_stream_is_apart_from_the_seeds_other_uses():
    # The pages seed the initialization (torch.manual_seed) with the same integer: the noise
    # pixels must not be the numbers a generator of that raw seed gives.
    x = torch.zeros(50, 3, 8, 8)
    y = torch.zeros(50, dtype=torch.long)
    x2, _, noisy = conditions.apply(x, y, conditions.Condition("randX", 1.0, seed=7), 10)
    raw = torch.Generator().manual_seed(7)
    torch.randperm(50, generator=raw)
    assert not torch.allclose(x2, torch.randn(x.shape, generator=raw), atol=0.5)
    again, _, _ = conditions.apply(x, y, conditions.Condition("randX", 1.0, seed=7), 10)
    assert torch.equal(x2, again)  # still a function of the seed
    _, y2, _ = conditions.apply(x, torch.arange(50) % 10, conditions.Condition("randY", 1.0, 7), 10)
    assert not torch.equal(y2, corrupt_labels(torch.arange(50) % 10, 50, 10, 7, "uniform")[0])


def test_conditions_real_names_and_validation():
    x, y = _data()
    x2, y2, noisy = conditions.apply(x, y, conditions.Condition("real", 0.7), 3)
    assert x2 is x and y2 is y and not noisy.any()
    assert conditions.Condition("randX", 0.4).label() == "randX 40%"
    assert conditions.Condition("randY").label() == "randY"
    assert conditions.Condition("real", 0.3).key() == conditions.Condition("real", 0.9).key()
    with pytest.raises(MemlibError, match="bad condition"):
        conditions.Condition("randZ")
    with pytest.raises(MemlibError, match="noise fraction"):
        conditions.Condition("randY", 1.5)


def test_networks_and_regularizers():
    cnn = nets.build("cnn", (3, 32, 32), 10, init_seed=0, width=0.1)
    assert cnn(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert cnn.first_filters.shape == (20, 3, 5, 5)
    with pytest.raises(MemlibError, match="too small"):
        nets.build("cnn", (3, 20, 20), 10, init_seed=0)
    reg = nets.Regularizer(dropout=0.5, input_noise=1.0)
    mlp = nets.build("mlp", (12,), 3, init_seed=0, widths=(8, 8), reg=reg)
    x = torch.randn(5, 12)
    assert torch.equal(mlp.eval()(x), mlp(x))  # no noise in eval mode
    assert not torch.equal(mlp.train()(x), mlp(x))  # noise while training
    same = nets.build("mlp", (12,), 3, init_seed=0, widths=(8, 8))
    assert all(torch.equal(a, b) for a, b in zip(mlp.parameters(), same.parameters(), strict=True))
    # The CNN's dropout acts on its dense layers only; Gaussian noise on every hidden ReLU.
    xc = torch.randn(4, 3, 32, 32)
    drop = nets.build("cnn", (3, 32, 32), 10, init_seed=0, width=0.1,
                      reg=nets.Regularizer(dropout=0.5)).train()  # fmt: skip
    assert torch.equal(drop.features(xc), drop.features(xc))
    assert not torch.equal(drop(xc), drop(xc))
    noisy = nets.build("cnn", (3, 32, 32), 10, init_seed=0, width=0.1,
                       reg=nets.Regularizer(hidden_noise=0.1)).train()  # fmt: skip
    assert not torch.equal(noisy.features(xc), noisy.features(xc))
    for bad in ({"dropout": 1.0}, {"hidden_noise": -1.0}, {"adversarial": 2.0}):
        with pytest.raises(MemlibError):
            nets.Regularizer(**bad)


def test_adversarial_training_is_the_weighted_loss_on_lass_critical_samples():
    # One epoch of one batch by fit(), against the step computed by hand from the same search.
    x, y = _data(n=32)
    reg = nets.Regularizer(adversarial=0.5)
    model = nets.build("mlp", (12,), 3, init_seed=0, widths=(8,), reg=reg)
    ref, plain = copy.deepcopy(model), copy.deepcopy(model)
    fit(model, x, y, Recipe(epochs=1, lr=0.1, batch_size=32), reg=reg, order_seed=1,
        noise_seed=2, scale=1.0)  # fmt: skip
    xb, yb = x[epoch_order(1, 1, 32)], y[epoch_order(1, 1, 32)]
    crit, x_hat = lass(ref, xb, scale=1.0, seed=(2 * 100_003 + 1) * 7919, **ADV_LASS)
    assert 0 < int(crit.sum()) < 32  # some points have a critical sample, some not
    x_hat = torch.where(crit.view(-1, 1), x_hat, xb)
    for net, loss in ((ref, lambda m: 0.5 * F.cross_entropy(m(xb), yb)
                       + 0.5 * F.cross_entropy(m(x_hat), yb)),
                      (plain, lambda m: F.cross_entropy(m(xb), yb))):  # fmt: skip
        loss(net.train()).backward()
        with torch.no_grad():
            for w in net.parameters():
                w -= 0.1 * w.grad
    pairs = lambda a: zip(model.parameters(), a.parameters(), strict=True)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in pairs(ref))
    assert not all(torch.allclose(a, b, atol=1e-4) for a, b in pairs(plain))


def test_fit_is_deterministic_and_resumes(tmp_path):
    x, y = _data(n=96)
    reg = nets.Regularizer(dropout=0.3, hidden_noise=0.1, weight_decay=1e-3)
    recipe = Recipe(epochs=4, lr=0.1, momentum=0.9, batch_size=32, halve_every=2)

    def run(folder=None, epochs=4):
        m = nets.build("mlp", (12,), 3, init_seed=1, widths=(16,), reg=reg)
        acc = lambda e, mod: {"acc": float((predict(mod, x) == y).float().mean())}
        r = Recipe(**(recipe.key() | {"epochs": epochs}))
        h = fit(m, x, y, r, reg=reg, order_seed=2, noise_seed=3, on_epoch=acc, folder=folder)
        return m, h

    m1, h1 = run()
    m2, h2 = run()
    assert all(torch.equal(a, b) for a, b in zip(m1.parameters(), m2.parameters(), strict=True))
    assert [r["epoch"] for r in h1] == [0, 1, 2, 3, 4] and h1[-1]["acc"] > h1[0]["acc"]
    assert [r["lr"] for r in h1[1:]] == [0.1, 0.1, 0.05, 0.05]
    run(tmp_path, epochs=2)  # interrupted after 2 epochs: its checkpoint remains
    m3, h3 = run(tmp_path)
    assert all(torch.equal(a, b) for a, b in zip(m1.parameters(), m3.parameters(), strict=True))
    assert h3 == h1


def test_stack_trains_each_member_as_alone():
    x, y = _data(n=80, d=12, c=3)
    xs = torch.stack([x, torch.randn_like(x)])  # two variants: real inputs, and noise
    ys = torch.stack([y, y.flip(0)])
    data_of = torch.tensor([0, 1, 0])
    recipe = Recipe(epochs=3, lr=0.2, momentum=0.9, batch_size=16)
    init, order = [5, 6, 7], [8, 9, 10]
    params = ensemble.init_stack(12, (10, 7), 3, init)
    seen = []
    ensemble.fit_stack(params, xs, ys, data_of, recipe, order, on_epoch=lambda e, p: seen.append(e))
    assert seen == [0, 1, 2, 3]
    preds = ensemble.predict(params, x)
    own = ensemble.predict(params, xs[data_of], per_member=True)
    for m in range(3):
        one = nets.build("mlp", (12,), 3, init_seed=init[m], widths=(10, 7))
        fit(one, xs[data_of[m]], ys[data_of[m]], recipe, order_seed=order[m])
        for (w, b), fc in zip(params, [*one.hidden, one.out], strict=True):
            assert torch.allclose(w[m], fc.weight, atol=1e-5)
            assert torch.allclose(b[m], fc.bias, atol=1e-5)
        assert torch.equal(preds[m], predict(one, x))
        assert torch.equal(own[m], predict(one, xs[data_of[m]]))


def test_lass_finds_exactly_the_points_near_a_linear_boundary():
    """A linear classifier on 2-D inputs with its boundary at x0 = 0: a point is critical if
    and only if the box of radius r reaches the boundary, |x0| <= r (x1 is irrelevant)."""
    model = torch.nn.Linear(2, 2)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 0.0], [-1.0, 0.0]]))
        model.bias.zero_()
    x0 = torch.linspace(-2, 2, 81) + 0.013  # no point exactly on the box edge (a tie)
    x = torch.stack([x0, torch.randn(81)], 1)
    critical, x_hat = lass(model, x, r=1.0, alpha=0.25, beta=0.0, max_iter=20)
    assert torch.equal(critical, x0.abs() < 1.0 - 1e-6)
    assert ((x_hat - x).abs() <= 1.0 + 1e-6).all()  # never leaves the box
    assert (model(x_hat[critical]).argmax(1) != model(x[critical]).argmax(1)).all()
    # With noise (beta > 0) the search still finds them, and is a function of its seed.
    noisy = lambda s: lass(model, x, r=1.0, alpha=0.25, beta=0.2, max_iter=40, seed=s)[0]
    assert torch.equal(noisy(1), noisy(1)) and torch.equal(noisy(1), critical)
    assert critical_ratio(model, x, r=1.0, beta=0.0) == pytest.approx(
        float(critical.float().mean())
    )
    # The units: r = 1 of the 0-255 scale is 1/255 of an input unit at scale 1/255.
    small, _ = lass(model, x, r=255 * 0.5, scale=1 / 255, beta=0.0, max_iter=20, alpha=64.0)
    assert torch.equal(small, x0.abs() < 0.5 - 1e-6)


def test_lass_gradient_sign_steps_escape_a_flat_start():
    """Where the gradient is zero (a ReLU dead zone), only the Langevin noise moves the search."""
    model = torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.ReLU(), torch.nn.Linear(1, 2))
    with torch.no_grad():
        model[0].weight.fill_(1.0)
        model[0].bias.fill_(0.0)
        model[2].weight.copy_(torch.tensor([[-1.0], [1.0]]))
        model[2].bias.copy_(torch.tensor([0.05, 0.0]))
    x = torch.full((200, 1), -0.01)  # dead ReLU: class 0; the class flips above x = 0.05
    without, _ = lass(model, x, r=1.0, alpha=0.25, beta=0.0, max_iter=10)
    with_noise, _ = lass(model, x, r=1.0, alpha=0.25, beta=0.2, max_iter=10, seed=0)
    assert not without.any() and with_noise.float().mean() > 0.5


def test_cache_keys_follow_the_shared_modules_and_the_callers_own(tmp_path, monkeypatch):
    import memlib.arpit as arpit
    from memlib.results import Computed

    monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path))
    assert arpit.code_version("lass.py") == arpit.code_version()  # shared: already in
    assert arpit.code_version("pages/base.py") != arpit.code_version()  # a page's own module
    import pandas as pd

    res = arpit.cached("t", {"a": 1}, lambda f: Computed(pd.DataFrame({"x": [1]}), {}))
    assert res.config["arpit_code"] == arpit.code_version()  # called from outside the folder
    assert res.path.parent.name == "arpit-t"
