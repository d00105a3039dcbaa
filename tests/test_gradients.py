"""The Gram-identity fast path against BackPACK's BatchGrad and a per-example autograd loop."""

import pytest
import torch
from torch import nn

from memlib import gradients as G
from memlib.models import MLP


def _setup(turnover: bool, dtype=torch.float64, n=48):
    torch.manual_seed(0)
    model = MLP(20, 32, 5, turnover=turnover, mask_seed=3).to(dtype)
    x = torch.randn(n, 1, 4, 5, dtype=dtype)
    y = torch.randint(0, 5, (n,))
    idx = torch.arange(100, 100 + n) if turnover else None
    return model, x, y, idx


@pytest.mark.parametrize("turnover", [False, True])
def test_gram_matches_loop_and_backpack(turnover):
    model, x, y, idx = _setup(turnover)
    loop = G.loop_grads(model, x, y, idx)
    bp = G.backpack_grads(model, x, y, idx)
    assert G.max_rel_error(bp, loop) < 1e-10  # the two references agree
    fast = G.gram(G.factors(model, x, y, idx))
    assert G.max_rel_error(fast, loop @ loop.T) < 1e-10
    assert G.max_rel_error(G.sq_norms(G.factors(model, x, y, idx)), (loop**2).sum(1)) < 1e-10
    assert all(p.grad is None for p in model.parameters())  # factors leave .grad alone


def test_float32_within_1e5():
    model, x, y, idx = _setup(True, torch.float32)
    ref = G.backpack_grads(model, x, y, idx)
    fs = G.factors(model, x, y, idx)
    assert G.max_rel_error(G.gram(fs), ref @ ref.T) < 1e-5
    assert G.max_rel_error(G.contributions(G.gram(fs)), _contrib(ref)) < 1e-5


def _contrib(v):
    g = v.mean(0)
    return v @ g / g.norm()


def test_cosine_and_contributions_by_definition():
    model, x, y, idx = _setup(False)
    v = G.loop_grads(model, x, y)
    g = G.gram(G.factors(model, x, y))
    cos = torch.stack([torch.stack([a @ b / a.norm() / b.norm() for b in v]) for a in v])
    assert torch.allclose(G.cosine(g), cos, atol=1e-12)
    assert torch.allclose(G.contributions(g), _contrib(v), atol=1e-12)


def test_mean_pairwise_cosine_exact_over_blocks():
    model, x, y, idx = _setup(True, n=70)
    v = G.loop_grads(model, x, y, idx)
    u = v / v.norm(dim=1, keepdim=True)
    c = u @ u.T
    n = len(v)
    want = (c.sum() - c.diagonal().sum()) / (n * (n - 1))
    got = G.mean_pairwise_cosine(model, x, y, idx, batch_size=16)  # 5 blocks, the last partial
    assert abs(got - float(want)) < 1e-12
    a, b = G.factors(model, x[:30], y[:30], idx[:30]), G.factors(model, x[30:], y[30:], idx[30:])
    assert torch.allclose(G.cross_gram(a, b), v[:30] @ v[30:].T, atol=1e-12)


def test_zero_gradients_leave_the_pairs():
    model, x, y, _ = _setup(False, n=40)
    model.fc2.weight.data *= 1e4  # saturated softmax: examples predicted right get exactly zero
    y[:20] = model(x[:20]).argmax(1)
    v = G.loop_grads(model, x, y)
    keep = v.norm(dim=1) > 0
    assert 5 < keep.sum() < 40
    u = v[keep] / v[keep].norm(dim=1, keepdim=True)
    n = len(u)
    want = ((u @ u.T).sum() - n) / (n * (n - 1))
    assert abs(G.mean_pairwise_cosine(model, x, y, batch_size=16) - float(want)) < 1e-12


def test_epoch_stats_groups():
    model, x, y, _ = _setup(False, n=64)
    groups = {"a": torch.arange(64) < 20, "b": torch.arange(64) >= 40}
    s = G.epoch_stats(model, x, y, groups, n_batches=3, batch_size=32, seed=0)
    assert set(s) == {"cos_a", "cos_b", "contrib_a", "contrib_b", "contrib_all"}
    assert abs(s["cos_a"] - G.mean_pairwise_cosine(model, x[:20], y[:20])) < 1e-12
    again = G.epoch_stats(model, x, y, groups, n_batches=3, batch_size=32, seed=0)
    assert s == again  # the sampled mini-batches are a function of the seed


def test_refuses_non_linear_parameters():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 2))
    with pytest.raises(NotImplementedError, match="nn.Linear"):
        G.factors(model, torch.randn(2, 1, 4, 4), torch.tensor([0, 1]))
