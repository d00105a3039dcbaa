"""Vectorized MLP ensembles, each against the obvious reference: one plain model at a time."""

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from memlib.data import load_dataset
from memlib.ensembles import eval_flops, init_ensemble, predict, train_ensemble, train_flops
from memlib.models import build_model
from memlib.training import Schedule, train


def _members(m: int, n: int, size: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    out = torch.zeros(m, n, dtype=torch.bool)
    for j in range(m):
        out[j, torch.randperm(n, generator=g)[:size]] = True
    return out


def _plain(data, hidden, init_seed):
    return build_model(
        "mlp",
        data.input_shape,
        data.n_classes,
        hidden=hidden,
        turnover=False,
        mask_seed=0,
        init_seed=init_seed,
    )


def _weights(model):
    return {"w1": model.fc1.weight, "b1": model.fc1.bias, "w2": model.fc2.weight,
            "b2": model.fc2.bias}  # fmt: skip


def test_init_ensemble_stacks_the_plain_models_initializations(tiny_npz):
    data = load_dataset(f"npz:{tiny_npz}")
    p = init_ensemble(64, 24, data.n_classes, [5, 6, 7])
    assert {k: tuple(v.shape) for k, v in p.items()} == {
        "w1": (3, 24, 64),
        "b1": (3, 24),
        "w2": (3, 4, 24),
        "b2": (3, 4),
    }
    for m, seed in enumerate([5, 6, 7]):
        for name, t in _weights(_plain(data, 24, seed)).items():
            assert torch.equal(p[name][m], t.detach()), (seed, name)
    assert not torch.equal(p["w1"][0], p["w1"][1])


@pytest.mark.parametrize("momentum, milestones", [(0.0, ()), (0.9, (2,))])
def test_ensemble_of_4_equals_4_sequential_models(tiny_npz, momentum, milestones):
    """Each member: its own subset, init and order; the weights of ``training.train`` on a plain
    MLP with the same seeds, to float tolerance."""
    data = load_dataset(f"npz:{tiny_npz}")
    members = _members(4, data.n_train, 140)
    init, order = [11, 12, 13, 14], [21, 22, 23, 24]
    sched = Schedule(lr=0.05, epochs=3, batch_size=32, momentum=momentum, milestones=milestones)
    p = init_ensemble(64, 48, data.n_classes, init)
    train_ensemble(p, data.x_train, data.y_train, members, order, sched)
    for m in range(4):
        model = _plain(data, 48, init[m])
        train(model, data, sched, order_seed=order[m], train_idx=members[m], progress=False)
        for name, t in _weights(model).items():
            torch.testing.assert_close(p[name][m], t.detach(), atol=2e-5, rtol=1e-4)
        pred = model(data.x_train, None, "unmuted").argmax(1)
        assert (predict(p, data.x_train)[m] == pred).float().mean() > 0.99
    assert not torch.equal(p["w1"][0], p["w1"][1])  # members really differ


def test_resumed_ensemble_equals_an_uninterrupted_one(tiny_npz):
    """``start_epoch`` and the momenta saved by ``on_epoch`` continue the run exactly."""
    data = load_dataset(f"npz:{tiny_npz}")
    members = _members(3, data.n_train, 100)
    sched = Schedule(lr=0.05, epochs=4, batch_size=32, momentum=0.9, milestones=(3,))
    whole = init_ensemble(64, 16, data.n_classes, [1, 2, 3])
    train_ensemble(whole, data.x_train, data.y_train, members, [4, 5, 6], sched)
    p = init_ensemble(64, 16, data.n_classes, [1, 2, 3])
    saved = {}

    def on_epoch(epoch, params, momenta):
        if epoch == 2:
            saved.update(params={k: v.clone() for k, v in params.items()},
                         momenta={k: v.clone() for k, v in momenta.items()})  # fmt: skip

    train_ensemble(p, data.x_train, data.y_train, members, [4, 5, 6], sched, on_epoch=on_epoch)
    resumed = saved["params"]
    train_ensemble(resumed, data.x_train, data.y_train, members, [4, 5, 6], sched,
                   start_epoch=3, momenta=saved["momenta"])  # fmt: skip
    for k in whole:
        assert torch.equal(resumed[k], whole[k]), k


def test_ensemble_rejects_unequal_subsets_and_adamw(tiny_npz):
    data = load_dataset(f"npz:{tiny_npz}")
    p = init_ensemble(64, 8, data.n_classes, [0, 1])
    uneven = _members(2, data.n_train, 100)
    uneven[0, ~uneven[0]] = True
    with pytest.raises(ValueError, match="as many examples"):
        train_ensemble(
            p, data.x_train, data.y_train, uneven, [0, 1], Schedule(lr=0.1, epochs=1, batch_size=32)
        )
    with pytest.raises(ValueError, match="SGD"):
        train_ensemble(
            p,
            data.x_train,
            data.y_train,
            _members(2, 200, 100),
            [0, 1],
            Schedule(lr=0.1, epochs=1, batch_size=32, optimizer="adamw"),
        )


def test_predict_is_every_members_argmax_in_any_batch_size(tiny_npz):
    data = load_dataset(f"npz:{tiny_npz}")
    seeds = [3, 4, 5]
    p = init_ensemble(64, 32, data.n_classes, seeds)
    pred = predict(p, data.x_train)
    assert pred.shape == (3, 200) and pred.dtype == torch.long
    for m, seed in enumerate(seeds):
        with torch.no_grad():
            logits = _plain(data, 32, seed)(data.x_train)
        top2 = logits.topk(2, 1).values
        clear = top2[:, 0] - top2[:, 1] > 1e-4  # leave out float near-ties
        assert torch.equal(pred[m][clear], logits.argmax(1)[clear])
        assert clear.float().mean() > 0.95
    assert torch.equal(predict(p, data.x_train, batch_size=7), pred)
    assert predict(p, data.x_train[:0]).shape == (3, 0)
    bf16 = predict(p, data.x_train, bf16=True)  # products in bf16: nearly the same classes
    assert (bf16 == pred).float().mean() > 0.9


def test_flops_against_torchs_flop_counter():
    """FLOPs of the MLP as torch counts its matrix products (2 per multiply-add): a forward
    pass, and a training pass (the forward, both weight gradients and the hidden layer's input
    gradient; the input's is never computed)."""
    d, h, c, n = 64, 48, 10, 37
    assert eval_flops(d, h, c, n) == 2 * (d * h + h * c) * n
    assert train_flops(d, h, c, n) == (4 * d * h + 6 * h * c) * n
    model = build_model("mlp", (d,), c, hidden=h, turnover=False, mask_seed=0, init_seed=0)
    x, y = torch.randn(n, d), torch.randint(0, c, (n,))
    with FlopCounterMode(display=False) as fwd:
        model(x)
    assert fwd.get_total_flops() == eval_flops(d, h, c, n)
    with FlopCounterMode(display=False) as both:
        F.cross_entropy(model(x), y).backward()
    assert both.get_total_flops() == train_flops(d, h, c, n)
