import numpy as np
import pytest
import torch
from PIL import Image

from memlib.data import DatasetNotFound, corrupt_labels, load_dataset
from memlib.errors import MemlibError


def test_corrupt_labels_records_and_changes_exactly_n():
    y = torch.randint(0, 10, (5000,), generator=torch.Generator().manual_seed(0))
    y_new, idx = corrupt_labels(y, 1000, 10, seed=3)
    changed = (y_new != y).nonzero().flatten()
    assert torch.equal(changed, idx) and len(idx) == 1000  # every corrupted label is another one
    assert torch.equal(y_new[idx], corrupt_labels(y, 1000, 10, seed=3)[0][idx])  # seeded
    assert not torch.equal(idx, corrupt_labels(y, 1000, 10, seed=4)[1])
    # The new label is uniform over the 9 other classes: offsets 1..9 each about 1/9.
    offsets = torch.bincount((y_new[idx] - y[idx]).remainder(10), minlength=10)
    assert offsets[0] == 0 and (offsets[1:] - 1000 / 9).abs().max() < 60
    with pytest.raises(MemlibError):
        corrupt_labels(y, 5001, 10, seed=0)


def test_uniform_label_noise_draws_any_class_from_the_same_examples():
    y = torch.randint(0, 10, (20000,), generator=torch.Generator().manual_seed(0))
    y_new, idx = corrupt_labels(y, 10000, 10, seed=3, noise="uniform")
    assert torch.equal(idx, corrupt_labels(y, 10000, 10, seed=3)[1])  # the same examples
    untouched = torch.ones(len(y), dtype=torch.bool)
    untouched[idx] = False
    assert torch.equal(y_new[untouched], y[untouched])
    # Uniform over all 10 classes: offset 0 (the true class drawn again) about 1/10, like any.
    offsets = torch.bincount((y_new[idx] - y[idx]).remainder(10), minlength=10)
    assert (offsets - 1000).abs().max() < 120
    with pytest.raises(MemlibError, match="label noise"):
        corrupt_labels(y, 10, 10, seed=0, noise="symmetric")


def test_missing_dataset_offline_names_dataset_folder_and_fix(tmp_path):
    with pytest.raises(DatasetNotFound) as e:
        load_dataset("fashion-mnist", root=tmp_path, download=False)
    msg = str(e.value)
    assert "fashion-mnist" in msg and str(tmp_path / "FashionMNIST") in msg
    assert "MEMLIB_DATA" in msg and "\n" not in msg
    with pytest.raises(DatasetNotFound) as e:
        load_dataset("cifar10", root=tmp_path, download=False)
    assert "CIFAR10-jpeg" in str(e.value)


def test_unknown_dataset():
    with pytest.raises(MemlibError, match="unknown dataset"):
        load_dataset("imagenet")


def test_mnist_loads_as_tensors_with_corruption(mnist_root):
    ds = load_dataset("mnist", root=mnist_root, n_corrupt=100, corrupt_seed=1, n_train=1000)
    assert ds.x_train.shape == (1000, 1, 28, 28) and ds.x_test.shape == (10_000, 1, 28, 28)
    assert ds.corrupted.sum() == 100 and (ds.y_train != ds.true_y_train).sum() == 100
    assert abs(ds.x_train.mean().item()) < 1e-4 and ds.n_classes == 10
    assert "MNIST" in ds.source


def test_split_test_trains_on_the_test_set(mnist_root):
    d = load_dataset("mnist", split="test", root=mnist_root)
    assert (d.n_train, len(d.y_test)) == (10_000, 60_000)
    train = load_dataset("mnist", root=mnist_root)
    assert torch.equal(d.true_y_train, train.y_test) and torch.equal(d.y_test, train.y_train)
    with pytest.raises(MemlibError, match="bad split"):
        load_dataset("mnist", split="val", root=mnist_root)


def test_cifar_image_folder_fallback(tmp_path):
    for split in ("train", "test"):
        for c, name in enumerate(["airplane", "automobile"]):
            d = tmp_path / "CIFAR10-jpeg" / split / name
            d.mkdir(parents=True)
            for k in range(3):
                Image.fromarray(np.full((32, 32, 3), 40 * c + k, np.uint8)).save(d / f"{k}.jpg")
    ds = load_dataset("cifar10", root=tmp_path, download=False)
    assert ds.x_train.shape == (6, 3, 32, 32) and ds.y_train.tolist() == [0, 0, 0, 1, 1, 1]
    assert "JPEG" in ds.source and "not the canonical" in ds.source


def test_npz_dataset_and_its_errors(tmp_path, tiny_npz):
    ds = load_dataset(f"npz:{tiny_npz}")
    assert ds.x_train.shape == (200, 1, 8, 8) and ds.n_classes == 4 and len(ds.y_test) == 0
    bad = tmp_path / "bad.npz"
    np.savez(bad, images=np.zeros((3, 2)), y=np.zeros(3, int))
    with pytest.raises(MemlibError, match="must hold arrays"):
        load_dataset(f"npz:{bad}")
    np.savez(bad, x=np.zeros((3, 2)), y=np.zeros(4, int))
    with pytest.raises(MemlibError, match="N = len"):
        load_dataset(f"npz:{bad}")
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(MemlibError, match="cannot read"):
        load_dataset(f"npz:{tmp_path / 'junk.npz'}")


@pytest.mark.parametrize(
    "y, words",
    [
        (np.array([0, 1, -1, 2]), "got -1..2"),  # a negative label
        (np.array([0.0, 1.0, 2.0, 1.0]), "integer array, got float64"),  # float labels
        (np.array([0, 1, 2, 4]), "C <= len(y) = 4, got 0..4"),  # max label >= len(y)
        (np.array([0, 1, 2, 1000]), "class indices 0..C-1"),
        (np.array([[0, 1], [1, 0], [0, 0], [1, 1]]), "1-D"),
    ],
)
def test_npz_labels_must_be_class_indices(tmp_path, y, words):
    path = tmp_path / "labels.npz"
    np.savez(path, x=np.zeros((4, 3, 3), np.uint8), y=y)
    with pytest.raises(MemlibError) as e:
        load_dataset(f"npz:{path}")
    assert words in str(e.value) and str(path) in str(e.value)


def test_npz_labels_at_the_limit_load(tmp_path):
    path = tmp_path / "labels.npz"
    np.savez(path, x=np.zeros((4, 3, 3), np.uint8), y=np.array([0, 3, 1, 3], np.int8))
    ds = load_dataset(f"npz:{path}")
    assert ds.n_classes == 4 and ds.y_train.dtype == torch.int64
    assert ds.y_train.tolist() == [0, 3, 1, 3]


def test_npz_subset_keeps_the_files_classes(tmp_path):
    from memlib.data import subset_indices

    keep = subset_indices(10, 5, 0).numpy()
    y = np.zeros(10, np.int64)
    y[keep[::2]] = 1
    y[np.setdiff1d(np.arange(10), keep)[0]] = 2  # class 2 only outside the subset
    path = tmp_path / "classes.npz"
    np.savez(path, x=np.zeros((10, 3, 3), np.uint8), y=y)
    assert load_dataset(f"npz:{path}").n_classes == 3
    assert load_dataset(f"npz:{path}", n_train=5).n_classes == 3


def test_flip_shift_against_a_per_image_crop():
    from memlib.data import flip_shift

    x = torch.randn(6, 3, 8, 8)
    out = flip_shift(x, torch.Generator().manual_seed(3), pad=2)
    gen = torch.Generator().manual_seed(3)  # the same draws, in flip_shift's order
    flip = torch.rand(6, generator=gen) < 0.5
    dy, dx = torch.randint(0, 5, (6,), generator=gen), torch.randint(0, 5, (6,), generator=gen)
    for b in range(6):
        img = x[b].flip(2) if flip[b] else x[b]
        padded = torch.nn.functional.pad(img, (2, 2, 2, 2))
        want = padded[:, dy[b] : dy[b] + 8, dx[b] : dx[b] + 8]
        assert torch.equal(out[b], want)
    cl = flip_shift(
        x.contiguous(memory_format=torch.channels_last), torch.Generator().manual_seed(3), 2
    )
    assert cl.is_contiguous(memory_format=torch.channels_last) and torch.equal(cl, out)
    assert out.is_contiguous()
