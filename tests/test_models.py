import torch
import torch.nn.functional as F

from memlib.models import MLP, build_model


def test_example_updates_only_its_unmuted_subnetwork():
    torch.manual_seed(0)
    model = MLP(20, 64, 3)
    x, y, idx = torch.randn(1, 20), torch.tensor([2]), torch.tensor([41])
    F.cross_entropy(model(x, idx, "unmuted"), y).backward()
    muted = ~model.drop(torch.ones(1, 64), idx, "unmuted").bool()[0]
    assert model.fc1.weight.grad[muted].abs().sum() == 0
    assert model.fc1.bias.grad[muted].abs().sum() == 0
    assert model.fc2.weight.grad[:, muted].abs().sum() == 0
    assert model.fc2.weight.grad[:, ~muted].abs().sum() > 0
    assert model.fc2.bias is None  # a shared output bias would leak into every sub-network


def test_full_network_is_mean_of_subnetworks():
    torch.manual_seed(0)
    model = MLP(20, 64, 3)
    x, idx = torch.randn(5, 20), torch.arange(5)
    full, un, mu = model(x), model(x, idx, "unmuted"), model(x, idx, "muted")
    torch.testing.assert_close(full, (un + mu) / 2)
    f2, u2, m2 = model.tail_all(model.trunk(x), idx)
    torch.testing.assert_close(f2, full)
    torch.testing.assert_close(u2, un)
    torch.testing.assert_close(m2, mu, rtol=1e-5, atol=1e-5)


def test_init_seed_controls_weights_only():
    a = build_model("mlp", (1, 4, 4), 3, hidden=8, turnover=True, mask_seed=0, init_seed=1)
    b = build_model("mlp", (1, 4, 4), 3, hidden=8, turnover=True, mask_seed=9, init_seed=1)
    c = build_model("mlp", (1, 4, 4), 3, hidden=8, turnover=True, mask_seed=0, init_seed=2)
    assert torch.equal(a.fc1.weight, b.fc1.weight)
    assert not torch.equal(a.fc1.weight, c.fc1.weight)
    plain = build_model("mlp", (1, 4, 4), 3, hidden=8, turnover=False, mask_seed=0, init_seed=1)
    assert not plain.turnover and plain.fc2.bias is not None
