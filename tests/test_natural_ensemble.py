"""The stacked ensembles of the natural-memorization chapter, against the obvious reference:
the same members trained one at a time with torch.optim.SGD; and the per-epoch correctness
record against the members' own predictions."""

import functools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from memlib.natural import data, ensemble, nets, sweep
from memlib.training import epoch_order


def _one_by_one(mods, x, y, owned, orders, recipe):
    """The reference: each module trained alone, same examples, order and schedule."""
    n = owned.shape[1]
    steps = -(-n // recipe.batch_size)
    for m, mod in enumerate(mods):
        opt = torch.optim.SGD(mod.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                              weight_decay=recipe.weight_decay)  # fmt: skip
        for epoch in range(1, recipe.epochs + 1):
            order = owned[m][epoch_order(orders[m], epoch, n)]
            for i, b in enumerate(range(0, n, recipe.batch_size)):
                idx = order[b : b + recipe.batch_size]
                opt.param_groups[0]["lr"] = recipe.lr_at((epoch - 1) * steps + i,
                                                         recipe.epochs * steps)  # fmt: skip
                loss = F.cross_entropy(mod(x[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
    return mods


@pytest.mark.parametrize("family,width", [("mlp1", 6), ("mlp2", 5), ("cnn", 3)])
def test_stacked_members_equal_members_trained_one_by_one(family, width):
    torch.manual_seed(0)
    shape, n, m, k = (1, 12, 12), 40, 4, 28
    x, y = torch.randn(n, *shape), torch.randint(0, 3, (n,))
    g = torch.Generator().manual_seed(1)
    owned = torch.stack([torch.randperm(n, generator=g)[:k].sort().values for _ in range(m)])
    seeds, orders = [11, 12, 13, 14], [5, 6, 7, 8]
    recipe = ensemble.Recipe(epochs=3, lr=0.1, batch_size=8, momentum=0.9, weight_decay=1e-3)
    net = ensemble.Stacked(ensemble.members(family, width, shape, 3, seeds))
    ensemble.train(net, x, y, owned, orders, recipe)
    ref = _one_by_one(ensemble.members(family, width, shape, 3, seeds), x, y, owned, orders, recipe)
    for j, mod in enumerate(ref):
        layers = [x for x in mod if isinstance(x, torch.nn.Linear | torch.nn.Conv2d)]
        for i, layer in enumerate(layers):
            torch.testing.assert_close(net.weights[i][j], layer.weight, rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(net.biases[i][j], layer.bias, rtol=1e-4, atol=1e-5)
        with torch.no_grad():
            want = mod(x).argmax(1)
        assert torch.equal(net.predict(x)[j], want)
        assert torch.equal(net.predict(x, batch_size=7)[j], want)


def test_members_are_built_under_their_own_seeds():
    a = ensemble.members("cnn", 2, (1, 8, 8), 3, [1, 2, 1])
    w = [m[0].weight for m in a]
    assert torch.equal(w[0], w[2]) and not torch.equal(w[0], w[1])


def test_triangular_learning_rate_rises_then_falls_to_zero():
    r = ensemble.Recipe(epochs=1, lr=1.0, batch_size=1, peak=0.2)
    lrs = [r.lr_at(s, 100) for s in range(100)]
    assert max(lrs) == pytest.approx(1.0) and int(np.argmax(lrs)) == 19
    assert lrs[0] == pytest.approx(0.05) and lrs[-1] == pytest.approx(1 / 80)
    assert all(a <= b for a, b in zip(lrs[:20], lrs[1:20], strict=False))


@pytest.fixture
def tiny_spec(mnist_root, monkeypatch):
    monkeypatch.setenv("MEMLIB_DATA", str(mnist_root))
    d = data.DataSpec("mnist", 60, 30, seed=3)
    return sweep.RunSpec(d, "mlp1", 5, ensemble.Recipe(epochs=2, lr=0.05, batch_size=8))


def test_per_epoch_correctness_bits_are_the_members_own_predictions(tiny_spec):
    """Replay the run member by member: the stored bits at every epoch are exactly whether each
    member, trained that many epochs, predicts each training and test label."""
    s = sweep.run(tiny_spec, 6, chunk=4, progress=False)  # two chunks: 4 and 2 members
    ts = s.data
    assert s.k == 6 and s.epochs == 2 and s.members.sum(1).tolist() == [42] * 6
    bits = s.chunks[0].arrays["correct"]
    assert bits.dtype == np.uint8 and bits.shape == (3, 4, (60 + 30 + 7) // 8)
    seeds = [sweep.member_seeds(tiny_spec, j) for j in range(6)]
    x_all, y_all = torch.cat([ts.x_train, ts.x_test]), torch.cat([ts.y_train, ts.y_test])
    for e in range(3):
        mods = ensemble.members("mlp1", 5, (1, 28, 28), 10, [q["init"] for q in seeds])
        net = ensemble.Stacked(mods)
        if e:  # the schedule of the whole run, stopped after e epochs
            owned = torch.as_tensor(np.stack([np.flatnonzero(m) for m in s.members]))
            orders, stop = [q["order"] for q in seeds], functools.partial(_stop, last=e)
            with pytest.raises(_Stop) if e < 2 else _nothing():
                ensemble.train(net, ts.x_train, ts.y_train, owned, orders, tiny_spec.recipe,
                               on_epoch=stop)  # fmt: skip
        want = (net.predict(x_all) == y_all).numpy()
        assert np.array_equal(s.correct(e), want[:, :60])
        assert np.array_equal(s.test_correct(e), want[:, 60:])


class _Stop(Exception):
    pass


def _nothing():
    import contextlib

    return contextlib.nullcontext()


def _stop(epoch, _momenta, last):
    if epoch == last < 2:
        raise _Stop


def test_runs_resume_and_extend_from_the_cache(tiny_spec):
    a = sweep.run(tiny_spec, 4, chunk=4, progress=False)
    b = sweep.run(tiny_spec, 8, chunk=4, progress=False)  # reuses the first chunk
    assert b.chunks[0].path == a.chunks[0].path
    assert np.array_equal(b.members[:4], a.members) and np.array_equal(b.correct()[:4], a.correct())


def test_long_tailed_subset_has_geometric_class_sizes(mnist_root, monkeypatch):
    monkeypatch.setenv("MEMLIB_DATA", str(mnist_root))
    assert data.class_sizes(5000, 10, 100) == [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    ts = data.build(data.DataSpec("mnist", 200, 20, ratio=10, planted=5, seed=1))
    sizes = np.bincount(ts.true_y.numpy(), minlength=10).tolist()
    assert sizes == data.class_sizes(20, 10, 10) and sizes[0] == 20 and sizes[-1] == 2
    assert int(ts.planted.sum()) == 5
    assert (ts.y_train[ts.planted] != ts.true_y[ts.planted]).all()
    assert (ts.y_train[~ts.planted] == ts.true_y[~ts.planted]).all()


def test_balanced_subset_is_load_datasets_own(mnist_root, monkeypatch):
    from memlib.data import load_dataset

    monkeypatch.setenv("MEMLIB_DATA", str(mnist_root))
    ts = data.build(data.DataSpec("mnist", 100, 10, seed=4))
    ref = load_dataset("mnist", n_train=100, subset_seed=4)
    assert torch.equal(ts.true_y, ref.y_train)


def test_flops_of_a_linear_model_and_a_cnn():
    assert nets.flops("mlp1", 4, (1, 28, 28), 10) == 2 * (784 * 4 + 4 * 10)
    # conv 1->2 on 28x28 stride 2 -> 14x14; conv 2->4 stride 2 -> 7x7; linear 196 -> 10
    want = 2 * (14 * 14 * 2 * 1 * 9 + 7 * 7 * 4 * 2 * 9 + 4 * 7 * 7 * 10)
    assert nets.flops("cnn", 2, (1, 28, 28), 10) == want
