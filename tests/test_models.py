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


def test_vgg11_example_updates_only_its_unmuted_feature_maps():
    torch.manual_seed(0)
    model = build_model(
        "vgg11", (3, 32, 32), 10, hidden=0, turnover=True, mask_seed=1, init_seed=0, width=0.125
    )
    assert [c.out_channels for c in model.convs] == [8, 16, 32, 32, 64, 64, 64, 64]
    x, y, idx = torch.randn(1, 3, 32, 32), torch.tensor([4]), torch.tensor([7])
    F.cross_entropy(model(x, idx, "unmuted"), y).backward()
    for conv, drop in zip(model.convs, model.drops, strict=True):
        muted = drop(torch.ones(1, conv.out_channels, 1, 1), idx, "unmuted")[0, :, 0, 0] == 0
        assert 0 < muted.sum() < conv.out_channels
        assert conv.weight.grad[muted].abs().sum() == 0  # masked maps' filters
        assert conv.bias.grad[muted].abs().sum() == 0
    last = model.drops[-1](torch.ones(1, 64, 1, 1), idx, "unmuted")[0, :, 0, 0] == 0
    assert model.fc.weight.grad[:, last].abs().sum() == 0
    assert model.fc.weight.grad[:, ~last].abs().sum() > 0
    assert model.fc.bias is None
    assert model(x).shape == (1, 10)  # the full network, no mask


def test_vgg11_channels_last_and_plain():
    torch.manual_seed(0)
    model = build_model(
        "vgg11", (3, 32, 32), 10, hidden=0, turnover=True, mask_seed=0, init_seed=0, width=0.125
    )
    x, idx = torch.randn(4, 3, 32, 32), torch.arange(4)
    ref = model(x, idx, "muted")
    cl = model.to(memory_format=torch.channels_last)
    out = cl(x.contiguous(memory_format=torch.channels_last), idx, "muted")
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)
    plain = build_model(
        "vgg11", (3, 32, 32), 10, hidden=0, turnover=False, mask_seed=0, init_seed=0, width=0.125
    )
    assert not plain.turnover and plain.fc.bias is not None
    torch.testing.assert_close(plain(x, idx, "muted"), plain(x))  # no masks at all


def test_cct_masks_go_where_its_docstring_says():
    torch.manual_seed(0)
    model = build_model(
        "cct", (1, 28, 28), 10, hidden=0, turnover=True, mask_seed=3, init_seed=0, width=0.25
    )
    x, y, idx = torch.randn(1, 1, 28, 28), torch.tensor([4]), torch.tensor([11])
    assert model(x, idx, "unmuted").shape == (1, 10) and model.fc.bias is None
    F.cross_entropy(model(x, idx, "unmuted"), y).backward()
    # tokenizer convolutions: a masked feature map's filter gets no gradient from the example
    for k, conv in enumerate((model.conv1, model.conv2)):
        muted = model.drops[k](torch.ones(1, conv.out_channels, 1, 1), idx)[0, :, 0, 0] == 0
        assert 0 < muted.sum() < conv.out_channels
        assert conv.weight.grad[muted].abs().sum() == 0 and conv.bias.grad[muted].abs().sum() == 0
        assert conv.weight.grad[~muted].abs().sum() > 0
    # each block's MLP: a masked hidden unit's row of fc1 and column of fc2 get none either
    for k, block in enumerate(model.blocks):
        muted = model.drops[2 + k](torch.ones(1, 1, block.fc1.out_features), idx)[0, 0] == 0
        assert 0 < muted.sum() < block.fc1.out_features
        assert block.fc1.weight.grad[muted].abs().sum() == 0
        assert block.fc2.weight.grad[:, muted].abs().sum() == 0
        assert block.fc2.weight.grad[:, ~muted].abs().sum() > 0
    # the full network is the plain forward; muted differs from unmuted
    with torch.no_grad():
        assert not torch.allclose(model(x, idx, "muted"), model(x, idx, "unmuted"))


def _vgg(**kw):
    return build_model(
        "vgg11", (3, 32, 32), 10, hidden=0, turnover=True, mask_seed=1, init_seed=0, width=0.125,
        **kw,
    )  # fmt: skip


def test_vgg11_masks_only_its_last_layers():
    from memlib.masks import TurnoverDropout

    model = _vgg(vgg={"mask_last": 2})
    kinds = [isinstance(d, TurnoverDropout) for d in model.drops]
    assert kinds == [False] * 6 + [True] * 2
    assert [d.layer for d in model.drops[6:]] == [6, 7]  # the all-layer design's masks there
    x = torch.randn(2, 3, 32, 32)
    h = model.trunk(x)  # before the first masked layer, both sub-networks are one network
    for k in range(1, 6):
        h = F.relu(model.convs[k](h))
        h = F.max_pool2d(h, 2) if model.pool_after[k] else h
    assert torch.equal(model.drops[5](h), h)


def test_vgg11_full_network_is_the_mean_of_a_reserved_pair():
    model = _vgg(vgg={"mask_scale": 1.0, "conv_bias": False})
    assert all(c.bias is None for c in model.convs)
    x = torch.randn(3, 3, 32, 32)
    r = torch.full((3,), model.FULL_INDEX)
    want = (model(x, r, "unmuted") + model(x, r, "muted")) / 2
    torch.testing.assert_close(model(x), want)


def test_vgg11_paired_masks_muted_is_the_partners_unmuted():
    from memlib.masks import pair_code

    model = _vgg(mask_pairs=4)
    idx = torch.arange(200)
    code = pair_code(idx, 4, 1)
    i = 0
    j = int(torch.nonzero(code == (code[i] ^ 1))[0])  # an example on the other side of i's pair
    x = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(model(x, idx[i : i + 1], "muted"), model(x, idx[j : j + 1]))
