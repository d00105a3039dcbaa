import torch

from memlib.masks import TurnoverDropout, mask_bits, mask_reference, mask_scale, mask_words


def test_matches_pure_python_reference():
    idx = torch.tensor([0, 1, 2, 59_999, 123_456, 2**31 + 7])
    for layer, seed, units in [(0, 0, 4096), (3, 17, 100), (1, 2**32 - 1, 33)]:
        bits = mask_bits(idx, units, layer, seed)
        for row, i in zip(bits, idx.tolist(), strict=True):
            assert row.tolist() == mask_reference(i, units, layer, seed)


def test_deterministic_and_seed_dependent():
    idx = torch.arange(1000)
    a, b = mask_bits(idx, 512, 0, 5), mask_bits(idx.flip(0), 512, 0, 5).flip(0)
    assert torch.equal(a, b)  # a mask depends on the example, not on its batch or position
    assert not torch.equal(a, mask_bits(idx, 512, 0, 6))
    assert not torch.equal(a, mask_bits(idx, 512, 1, 5))  # layers draw independent masks


def test_balance():
    m = mask_bits(torch.arange(10_000), 4096, 0, 0).float()
    assert abs(m.mean().item() - 0.5) < 0.002
    per_example = m.mean(1)
    # Binomial(4096, 1/2): sd 0.0078; 6 sd covers every one of 10,000 examples.
    assert (per_example - 0.5).abs().max() < 6 * 0.0078
    per_unit = m.mean(0)  # every unit is on for about half the examples
    assert (per_unit - 0.5).abs().max() < 6 * 0.005


def test_no_two_examples_of_60000_share_a_mask():
    words = mask_words(torch.arange(60_000), 4096, 0, 0)  # packed: [60000, 128]
    assert torch.unique(words, dim=0).shape[0] == 60_000
    words1 = mask_words(torch.arange(60_000), 4096, 1, 0)
    assert torch.unique(torch.cat([words, words1]), dim=0).shape[0] == 120_000


def test_muted_is_complement_with_dropout_scaling():
    drop = TurnoverDropout(64, layer=0, seed=1)
    h = torch.rand(8, 64) + 0.1
    idx = torch.arange(8)
    un, mu = drop(h, idx, "unmuted"), drop(h, idx, "muted")
    assert torch.equal((un > 0) ^ (mu > 0), torch.ones_like(h, dtype=torch.bool))
    torch.testing.assert_close(un + mu, 2 * h)  # each kept unit scaled by 1/(1-p) = 2
    assert torch.equal(drop(h), h)  # no index: the full network


def test_spatial_masks_whole_feature_maps():
    drop = TurnoverDropout(6, layer=2, seed=0, spatial=True)
    h = torch.rand(4, 6, 5, 5) + 0.1
    idx = torch.arange(10, 14)
    out = drop(h, idx, "unmuted")
    on = mask_bits(idx, 6, 2, 0)
    assert torch.equal((out != 0).all(-1).all(-1), on)
    assert torch.equal((out == 0).all(-1).all(-1), ~on)


def test_cpu_and_gpu_agree():
    import pytest

    if not torch.cuda.is_available():
        pytest.skip("no GPU")
    idx = torch.arange(5000)
    assert torch.equal(mask_bits(idx, 4096, 0, 3), mask_bits(idx.cuda(), 4096, 0, 3).cpu())


def test_scale_tables_match_bits():
    idx = torch.arange(300, 340)
    bits = mask_bits(idx, 100, 4, 9)
    for dtype in (torch.float32, torch.bfloat16):
        un = mask_scale(idx, 100, 4, 9, "unmuted", dtype)
        mu = mask_scale(idx, 100, 4, 9, "muted", dtype)
        assert un.dtype == dtype and torch.equal(un, 2 * bits.to(dtype))
        assert torch.equal(mu, 2 * (~bits).to(dtype))


def test_paired_masks_match_the_reference_and_pair_up():
    idx = torch.arange(3000)
    for pairs, layer, seed, units in [(1, 0, 0, 40), (8, 3, 5, 100), (64, 7, 2**32 - 1, 33)]:
        bits = mask_bits(idx, units, layer, seed, pairs)
        for row, i in zip(bits[:50], idx[:50].tolist(), strict=True):
            assert row.tolist() == mask_reference(i, units, layer, seed, pairs)
        distinct = {tuple(r) for r in bits.tolist()}
        assert len(distinct) <= 2 * pairs  # no example owns a code of its own
        for r in distinct:  # every code's complement is a code too (3000 draws: all codes)
            assert tuple(not b for b in r) in distinct
    # the code is the example's in every layer: muted in one layer <=> muted in every layer
    a, b = mask_bits(idx, 64, 0, 1, pairs=4), mask_bits(idx, 64, 5, 1, pairs=4)
    same = (a[:, None] == a[None]).all(-1)
    assert torch.equal(same, (b[:, None] == b[None]).all(-1))
    assert torch.equal((a[:, None] == ~a[None]).all(-1), (b[:, None] == ~b[None]).all(-1))


def test_scale_option():
    idx = torch.arange(8)
    for mode in ("unmuted", "muted"):
        one = mask_scale(idx, 70, 0, 3, mode, torch.float32, scale=1.0)
        two = mask_scale(idx, 70, 0, 3, mode, torch.float32)
        torch.testing.assert_close(2 * one, two)
        assert set(one.unique().tolist()) == {0.0, 1.0}
