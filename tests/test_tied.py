"""Example-tied dropout: the masks (fractions, determinism, shared generalization channels, a
stream of their own), the evaluation modes' rescaling, isolation of an example's update, the
baselines, and the cached run (deterministic, resumable)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from memlib.errors import MemlibError
from memlib.localization import LocalizeConfig, build_resnet9
from memlib.masks import mask_reference, mask_words
from memlib.tied import DropoutConfig, Dropped, channel_split, run, tied_masks, tied_run
from memlib.tied.dropout import _TIED, CONVS, mode_scale


def _cfg(path, **kw) -> LocalizeConfig:
    base = dict(dataset=f"npz:{path}", width=0.125, epochs=3, peak_epoch=1, batch_size=40,
                noise=0.1, device="cpu")  # fmt: skip
    return LocalizeConfig(**(base | kw))


def _tiny(scheme="tied", **kw) -> Dropped:
    return Dropped(build_resnet9((1, 16, 16), 4, 0.125, 0), DropoutConfig(scheme=scheme, **kw))


@pytest.mark.parametrize("n, p_gen, p_mem", [(8, 0.4, 0.2), (16, 0.4, 0.2), (64, 0.1, 0.1),
                                             (64, 0.6, 0.2), (256, 0.3, 0.2)])  # fmt: skip
def test_every_example_has_the_generalization_channels_and_exactly_k_of_its_own(n, p_gen, p_mem):
    m = tied_masks(torch.arange(2000), n, 3, 7, p_gen, p_mem)
    n_gen, k = channel_split(n, p_gen, p_mem)
    assert m.shape == (2000, n) and m.dtype == torch.bool
    assert m[:, :n_gen].all()  # shared by every example
    assert (m[:, n_gen:].sum(1) == k).all()  # exactly k memorization channels each
    assert abs(n_gen / n - p_gen) <= 0.5 / n + 1e-9
    # Each memorization channel is owned by about k / (n - n_gen) of the examples.
    share = m[:, n_gen:].float().mean(0)
    assert (share - k / (n - n_gen)).abs().max() < 0.06
    assert len({tuple(r) for r in m[:, n_gen:].tolist()}) > 0.5 * min(2000, math.comb(n - n_gen, k))


def test_masks_are_a_function_of_seed_layer_and_index_only():
    idx = torch.tensor([5, 0, 1999, 42, 5])
    m = tied_masks(idx, 32, 2, 11, 0.4, 0.2)
    one_by_one = torch.cat([tied_masks(idx[i : i + 1], 32, 2, 11, 0.4, 0.2) for i in range(5)])
    assert torch.equal(m, one_by_one) and torch.equal(m[0], m[4])  # batch does not matter
    assert torch.equal(m, tied_masks(idx, 32, 2, 11, 0.4, 0.2))
    others = [tied_masks(idx, 32, 3, 11, 0.4, 0.2), tied_masks(idx, 32, 2, 12, 0.4, 0.2)]
    assert all(not torch.equal(m, o) for o in others)  # another layer, another seed


def test_masks_match_a_slow_reference_built_on_the_engines_reference():
    n, p_gen, p_mem, layer, seed = 20, 0.4, 0.2, 4, 3
    n_gen, k = channel_split(n, p_gen, p_mem)
    for i in (0, 1, 77, 123456):
        bits = mask_reference(i, 32 * (n - n_gen), layer, (seed ^ _TIED) & 0xFFFFFFFF)
        words = [sum(b << j for j, b in enumerate(bits[32 * w : 32 * w + 32]))
                 for w in range(n - n_gen)]  # fmt: skip
        chosen = sorted(range(n - n_gen), key=lambda c: (words[c], c))[:k]
        ref = [True] * n_gen + [c in chosen for c in range(n - n_gen)]
        assert tied_masks(torch.tensor([i]), n, layer, seed, p_gen, p_mem)[0].tolist() == ref


def test_tied_and_turnover_masks_come_from_separate_streams_of_one_engine():
    """The same (seed, layer, index) gives a turn-over mask and a tied mask that are unrelated:
    choosing the k channels from the turn-over stream picks other channels."""
    idx, n, layer, seed = torch.arange(500), 40, 1, 0
    n_gen, k = channel_split(n, 0.4, 0.2)
    tied = tied_masks(idx, n, layer, seed, 0.4, 0.2)[:, n_gen:]
    words = mask_words(idx, 32 * (n - n_gen), layer, seed)  # the turn-over stream
    plain = torch.zeros_like(tied).scatter_(1, words.topk(k, largest=False).indices, True)
    assert (tied != plain).any(1).float().mean() > 0.9


def test_full_is_the_average_example_and_drop_keeps_the_active_channels_worth():
    n, p_gen, p_mem = 1000, 0.4, 0.2
    n_gen, k = channel_split(n, p_gen, p_mem)
    full, drop, paper = (mode_scale(n, p_gen, p_mem, m) for m in ("full", "drop", "drop_paper"))
    own = tied_masks(torch.arange(4000), n, 0, 0, p_gen, p_mem).float()
    assert torch.allclose(own.mean(0)[n_gen:].mean(), full[n_gen:].mean(), atol=1e-3)
    assert torch.all(full[:n_gen] == 1) and torch.all(drop[n_gen:] == 0)
    assert drop[:n_gen].sum() == pytest.approx(n_gen + k)  # as many active channels as trained
    assert drop[0] == pytest.approx((p_gen + (1 - p_gen) * p_mem) / p_gen, rel=1e-3)  # 1.3
    assert paper[0] == pytest.approx((p_gen + p_mem) / p_gen)  # the public code's 1.5
    assert torch.equal(mode_scale(n, p_gen, p_mem, "drop_unscaled"), (drop > 0).float())
    with pytest.raises(MemlibError, match="at least 2 channels"):
        channel_split(1, 0.4, 0.2)


def test_modes_multiply_each_block_by_its_mask():
    model = _tiny().eval()
    raw = {}
    for name in CONVS:  # registered after the model's hooks: sees the masked output
        getattr(model.net, name).register_forward_hook(
            lambda m, i, o, n=name: raw.__setitem__(n, o)
        )
    x, idx = torch.randn(3, 1, 16, 16), torch.tensor([4, 9, 4])
    x[2] = x[0]
    model(x, idx, "own")
    for layer, name in enumerate(CONVS):
        out = raw[name]
        used = tied_masks(idx, out.shape[1], layer, 0, 0.4, 0.2)
        assert torch.all(out[~used[:, :, None, None].expand_as(out)] == 0)
    out = model(x, idx, "own")
    assert torch.equal(out[0], out[2]) and not torch.equal(out[0], model(x, idx + 1, "own")[0])
    plain = model.net.conv1(x)  # no pass under way: the block's unmasked output
    for mode in ("full", "drop", "drop_paper", "drop_unscaled"):
        model(x, None, mode)
        want = plain * mode_scale(plain.shape[1], 0.4, 0.2, mode).view(1, -1, 1, 1)
        assert torch.allclose(raw["conv1"], want), mode
    n_gen, _ = channel_split(raw["conv1"].shape[1], 0.4, 0.2)
    assert torch.all(raw["conv1"][:, n_gen:] == 0) and raw["conv1"][:, :n_gen].abs().sum() > 0
    with pytest.raises(ValueError, match="needs the training indices"):
        model(x, None, "own")
    with pytest.raises(ValueError, match="needs example-tied"):
        _tiny("dropout")(x, None, "drop")


@pytest.mark.parametrize("train_mode", [False, True])
def test_a_gradient_step_never_touches_channels_no_example_of_the_batch_owns(train_mode):
    """Plain SGD (no momentum, no weight decay; batch-norm running statistics aside): the
    weights of a memorization channel that no example of the batch owns, and the weights that
    read it, stay as they were."""
    torch.manual_seed(0)
    model = _tiny().train(train_mode)
    x, y, idx = torch.randn(4, 1, 16, 16), torch.randint(0, 4, (4,)), torch.tensor([3, 8, 21, 40])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.SGD(model.parameters(), lr=0.5)  # no momentum, no weight decay
    F.cross_entropy(model(x, idx, "own"), y).backward()
    opt.step()
    touched, feeds = 0, {"conv1": "conv2", "conv3": "conv4", "conv6": "conv7"}  # not residual sums
    for layer, name in enumerate(CONVS):
        block = getattr(model.net, name)
        used = tied_masks(idx, block.keep.numel(), layer, 0, 0.4, 0.2).any(0)
        for p, key in ((block.conv.weight, "conv.weight"), (block.bn.weight, "bn.weight"),
                       (block.bn.bias, "bn.bias")):  # fmt: skip
            same = (p.detach() == before[f"net.{name}.{key}"]).reshape(len(used), -1).all(1)
            assert same[~used].all(), f"{name}: a channel no example owns was updated"
            touched += int((~same[used]).sum())
        if name in feeds:  # the next convolution's weights that read an unowned channel
            w = getattr(model.net, feeds[name]).conv.weight.detach()
            old = before[f"net.{feeds[name]}.conv.weight"]
            assert torch.equal(w[:, ~used], old[:, ~used]), f"{feeds[name]} read {name}"
    assert touched > 0  # the owned and shared channels did learn


def test_the_baselines_dropout_and_a_fixed_sparse_network():
    x = torch.randn(6, 1, 16, 16)
    drop = _tiny("dropout").train()
    assert not torch.equal(drop(x, None, "own", step=0), drop(x, None, "own", step=1))
    assert torch.equal(drop(x, None, "own", step=3), drop(x, None, "own", step=3))
    drop.eval()
    assert torch.equal(drop(x), drop.net(x))  # no dropout at evaluation
    sparse = _tiny("sparse", keep=0.4)
    for name in CONVS:
        w = getattr(sparse.net, name).conv.weight
        assert (w != 0).float().mean().item() == pytest.approx(0.4, abs=0.02)
    F.cross_entropy(sparse(x), torch.zeros(6, dtype=torch.long)).backward()
    w = sparse.net.conv3.conv
    assert torch.all(w.weight_orig.grad[w.weight_mask == 0] == 0)  # held at zero
    assert DropoutConfig(scheme="none").key() == {"scheme": "none", "mask_seed": 0}
    with pytest.raises(MemlibError, match="scheme"):
        DropoutConfig(scheme="tide")
    with pytest.raises(MemlibError, match="p_gen"):
        DropoutConfig(p_gen=1.0)


def test_a_run_is_cached_deterministic_and_resumes(images_npz, tmp_path, monkeypatch):
    cfg, dcfg = _cfg(images_npz), DropoutConfig(mask_seed=1)
    monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path / "a"))
    a = tied_run(cfg, dcfg, progress=False)
    assert len(a.history) == 3 and set(a.table().columns) >= {"pred_own", "correct_drop"}
    assert a.corrupted.sum() == 12 and (a.table().label != a.table().true_label).sum() == 12
    assert tied_run(cfg, dcfg, progress=False).result.meta == a.result.meta  # from the cache

    monkeypatch.setenv("MEMLIB_CACHE", str(tmp_path / "b"))
    saves = []
    real = run.save_atomic

    def interrupted(state, path):
        real(state, path)
        saves.append(path)
        if len(saves) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(run, "save_atomic", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tied_run(cfg, dcfg, progress=False)
    monkeypatch.setattr(
        run, "save_atomic", lambda state, path: (saves.append(path), real(state, path))
    )
    b = tied_run(cfg, dcfg, progress=False)  # resumes from epoch 2
    assert len(saves) == 3  # one epoch left to train
    for k, v in a.arrays.items():
        np.testing.assert_array_equal(v, b.arrays[k], err_msg=k)
    assert a.history.drop(columns=[]).equals(b.history)
