"""The Maini chapter's machinery: ResNet-9's zeroable units, the trajectory's gradient
accounting, rewinding, the real freeze of retraining, greedy removal, and the baselines."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from memlib.errors import MemlibError
from memlib.localization import LAYERS, LocalizeConfig, build_resnet9, studies, trajectory
from memlib.localization.layers import Retraining, freeze_all_but, retrain_layer, rewound
from memlib.localization.neurons import remove_until_flip, reset
from memlib.localization.trajectory import _epoch, layer_params, load_data, new_model, one_cycle



def _cfg(path, **kw) -> LocalizeConfig:
    base = dict(dataset=f"npz:{path}", width=0.125, epochs=3, peak_epoch=1, batch_size=40,
                device="cpu")  # fmt: skip
    return LocalizeConfig(**(base | kw))


def test_resnet9_has_the_papers_size_and_nine_layers():
    model = build_resnet9((3, 32, 32), 10, 1.0, init_seed=0)
    n = sum(p.numel() for p in model.parameters())
    assert 2.2e6 < n < 2.4e6
    assert list(model.layers()) == list(LAYERS) and len(LAYERS) == 9
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert build_resnet9((1, 28, 28), 10, 0.25, 0)(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_zeroing_a_channel_zeroes_its_activation_in_eval_mode():
    model = build_resnet9((3, 32, 32), 10, 0.25, 0).eval()
    with torch.no_grad():
        model.conv3.bn.bias.fill_(1.0)  # eval-mode batch norm would leave β after zero weights
        model.conv3.keep[2] = 0.0
    seen = {}
    model.conv3.register_forward_hook(lambda m, i, o: seen.setdefault("out", o))
    model(torch.randn(4, 3, 32, 32))
    assert seen["out"][:, 2].abs().max() == 0 and seen["out"][:, 1].abs().max() > 0


def test_config_fails_early_with_a_clear_message():
    with pytest.raises(MemlibError, match="noise"):
        LocalizeConfig(noise=1.5)
    with pytest.raises(MemlibError, match="peak_epoch"):
        LocalizeConfig(epochs=5, peak_epoch=5)
    with pytest.raises(MemlibError, match="dataset"):
        LocalizeConfig(dataset="svhn")


def test_label_noise_redraws_a_share_to_another_class_and_records_it(images_npz):
    data = load_data(_cfg(images_npz, noise=0.25))
    c = data.corrupted
    assert int(c.sum()) == 30
    assert (data.y_train[c] != data.true_y_train[c]).all()
    assert (data.y_train[~c] == data.true_y_train[~c]).all()
    again = load_data(_cfg(images_npz, noise=0.25))
    assert torch.equal(again.y_train, data.y_train)
    other = load_data(_cfg(images_npz, noise=0.25, corrupt_seed=1))
    assert not torch.equal(other.corrupted, data.corrupted)


def test_one_cycle_peaks_then_ends_at_zero():
    cfg = LocalizeConfig(epochs=10, peak_epoch=2, lr=0.1)
    lrs = [one_cycle(s, 5, cfg) for s in range(50)]
    assert max(lrs) == pytest.approx(0.1) and np.argmax(lrs) == 9  # last step of epoch 2
    assert lrs[-1] == 0 and lrs[0] == pytest.approx(0.01)


def test_gradient_accounting_matches_the_gradients_at_the_start(images_npz):
    """One batch an epoch: the summed gradients are the gradients at the starting weights."""
    cfg = _cfg(images_npz, noise=0.25, batch_size=120)
    data = load_data(cfg)
    model = new_model(cfg, data)
    ref = copy.deepcopy(model).train()
    losses = F.cross_entropy(ref(data.x_train), data.y_train, reduction="none")
    params = layer_params(ref)
    flat = [p for ps in params.values() for p in ps]
    g_all = torch.autograd.grad(losses.sum(), flat, retain_graph=True)
    g_noisy = torch.autograd.grad(losses[data.corrupted].sum(), flat)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    perm = torch.arange(data.n_train)
    _, stats, correct = _epoch(model, data, perm, opt, cfg, 0, 1)
    j = 0
    for i, (name, ps) in enumerate(params.items()):
        a = torch.cat([g.reshape(-1) for g in g_all[j : j + len(ps)]])
        n = torch.cat([g.reshape(-1) for g in g_noisy[j : j + len(ps)]])
        j += len(ps)
        root = len(a) ** 0.5
        assert stats["grad_total"][i] == pytest.approx((a.norm() / root).item(), rel=1e-4)
        assert stats["grad_noisy"][i] == pytest.approx((n.norm() / root).item(), rel=1e-4)
        assert stats["grad_clean"][i] == pytest.approx(((a - n).norm() / root).item(), rel=1e-3)
        cos = F.cosine_similarity(a - n, n, dim=0).item()
        assert stats["grad_cos"][i] == pytest.approx(cos, abs=1e-3)
    assert correct.shape == (data.n_train,)


@pytest.fixture
def traj(images_npz, tmp_path, monkeypatch):
    monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path / "cache"))
    return trajectory(_cfg(images_npz, noise=0.25), progress=False)


def test_trajectory_keeps_every_epoch_and_is_cached(traj, images_npz):
    cfg = traj.config
    assert len(traj.history) == cfg.epochs and traj.arrays["correct"].shape == (cfg.epochs, 120)
    assert traj.arrays["grad_cos"].shape == (cfg.epochs, 9)
    first, last = traj.state(0), traj.state(cfg.epochs)
    assert not torch.equal(first["conv1.conv.weight"], last["conv1.conv.weight"])
    again = trajectory(cfg, progress=False)
    assert again.result.path == traj.result.path
    assert set(traj.grad_table().layer) == set(LAYERS)


def test_rewinding_copies_weights_and_statistics(traj):
    final, init = traj.state(traj.config.epochs), traj.state(0)
    r = rewound(final, init, "conv5")
    for k in final:
        src = init if k.startswith("conv5.") and not k.endswith("keep") else final
        assert torch.equal(r[k], src[k]), k
    assert torch.equal(r["conv5.bn.running_mean"], init["conv5.bn.running_mean"])
    kept = rewound(final, init, "conv5", stats=False)
    assert torch.equal(kept["conv5.bn.running_var"], final["conv5.bn.running_var"])
    assert torch.equal(kept["conv5.conv.weight"], init["conv5.conv.weight"])


def test_rewinding_to_the_last_epoch_changes_nothing(traj):
    data = load_data(traj.config)
    idx = torch.arange(data.n_train)
    grid = studies.rewind_grid(traj, data, [traj.config.epochs], idx, torch.arange(0),
                               progress=False)  # fmt: skip
    final = studies.accuracies(traj.model(data), data, False, idx, torch.arange(0))
    assert (grid.noisy_acc == final["noisy_acc"]).all()
    assert (grid.clean_acc == final["clean_acc"]).all()


def test_retraining_freezes_every_other_weight_bit_for_bit(traj):
    data = load_data(traj.config)
    before = traj.model(data).state_dict()
    r = Retraining(epochs=2, peak_epoch=1, batch_size=40)
    idx = torch.arange(data.n_train)
    seen = {}
    orig = freeze_all_but

    def spy(model, layer):
        seen["model"] = model
        return orig(model, layer)

    import memlib.localization.layers as layers

    layers.freeze_all_but = spy
    try:
        table = retrain_layer(traj, data, "conv4", r, idx, torch.arange(0), order_seed=0)
    finally:
        layers.freeze_all_but = orig
    after = seen["model"].state_dict()
    init = traj.state(0)
    for name, p in seen["model"].named_parameters():
        if name.startswith("conv4."):
            assert p.requires_grad and not torch.equal(after[name], init[name])
        else:
            assert not p.requires_grad and torch.equal(after[name], before[name]), name
    assert list(table.epoch) == [0, 1, 2]


class _Tiny(nn.Module):
    """Three hidden units of one input: unit 0 carries class 0 strongly, unit 1 weakly, unit 2
    carries class 1. Zeroing unit 0 (and only it) flips an input of 1 from class 0 to 1."""

    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(1, 3, bias=False)
        self.hidden.register_buffer("keep", torch.ones(3))
        self.out = nn.Linear(3, 2, bias=False)
        with torch.no_grad():
            self.hidden.weight.copy_(torch.tensor([[1.0], [1.0], [1.0]]))
            self.out.weight.copy_(torch.tensor([[3.0, 0.5, 0.0], [0.0, 0.0, 2.0]]))

    def layers(self):
        return {"hidden": self.hidden}

    def forward(self, x):
        return self.out(F.relu(self.hidden(x.flatten(1))) * self.hidden.keep)


def test_removal_zeroes_the_known_unit_and_stops_at_the_flip():
    model = _Tiny()
    x, gen = torch.ones(1), torch.Generator().manual_seed(0)
    ref_x, ref_y = torch.zeros(4, 1), torch.zeros(4, dtype=torch.long)
    r = remove_until_flip(model, x, 0, ref_x, ref_y, n_noise=5, sigma=0.01, max_steps=3, gen=gen)
    assert r.flipped and r.units == [("hidden", 0)]
    assert model(x[None]).argmax().item() == 1
    reset(model)
    assert model.hidden.keep.eq(1).all()
    capped = remove_until_flip(model, x, 0, ref_x, ref_y, n_noise=5, sigma=0.01, max_steps=0, gen=gen)
    assert not capped.flipped and capped.n == 0


def test_removal_is_reproducible_under_its_input_noise():
    """The Gaussian perturbations come from the generator: the same seed, the same search."""
    x, ref_x, ref_y = torch.ones(1), torch.zeros(4, 1), torch.zeros(4, dtype=torch.long)
    runs = []
    for sigma, seed in ((0.5, 1), (0.5, 1), (0.0, 1)):
        model = _Tiny()
        gen = torch.Generator().manual_seed(seed)
        runs.append(remove_until_flip(model, x, 0, ref_x, ref_y, n_noise=5, sigma=sigma,
                                      max_steps=3, gen=gen).units)  # fmt: skip
    assert runs[0] == runs[1]
    assert runs[2] == [("hidden", 0)]


def test_learning_time_is_the_epoch_from_which_an_example_stays_right():
    correct = np.array([[0, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 0]], bool)
    assert studies.learning_time(correct).tolist() == [2, 1, 3, 4]
