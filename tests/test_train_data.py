"""Small fixture data sets in each format, made here, load through the real loaders."""

import gzip
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from cnndsl.cli import main
from cnndsl.train.batches import Batches, Preprocess, epoch_batches
from cnndsl.train.data import load_data
from cnndsl.train.errors import DataError

SPECS = Path(__file__).resolve().parent / "specs"
RGB = SPECS / "train_tiny_rgb.cnn"


def make_mnist(folder: Path, gz: bool, train: int = 40, test: int = 20) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(0)

    def write(name, magic_dims, data):
        header = bytes([0, 0, 8, len(magic_dims)]) + b"".join(d.to_bytes(4, "big") for d in magic_dims)
        payload = header + data.astype(np.uint8).tobytes()
        if gz:
            with gzip.open(folder / (name + ".gz"), "wb") as handle:
                handle.write(payload)
        else:
            (folder / name).write_bytes(payload)
    for prefix, n in (("train", train), ("t10k", test)):
        write(f"{prefix}-images-idx3-ubyte", [n, 28, 28], rng.randint(0, 256, (n, 28, 28)))
        write(f"{prefix}-labels-idx1-ubyte", [n], np.arange(n) % 10)


def make_cifar(folder: Path, per_batch: int = 12) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(0)
    for name in [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]:
        batch = {b"batch_label": name.encode(),
                 b"data": rng.randint(0, 256, (per_batch, 3072)).astype(np.uint8),
                 b"labels": [int(v) for v in np.arange(per_batch) % 10]}
        with open(folder / name, "wb") as handle:
            pickle.dump(batch, handle, protocol=2)
    with open(folder / "batches.meta", "wb") as handle:
        pickle.dump({b"label_names": [f"class{k}".encode() for k in range(10)]}, handle)


def make_imagefolder(root: Path, mode: str = "RGB", classes=("cat", "dog", "owl")) -> None:
    from PIL import Image
    rng = np.random.RandomState(0)
    for split, count in (("train", 4), ("val", 2)):
        for name in classes:
            (root / split / name).mkdir(parents=True)
            for k in range(count):
                shape = (20, 24, 3) if mode == "RGB" else (20, 24)
                Image.fromarray(rng.randint(0, 256, shape).astype(np.uint8), mode).save(
                    root / split / name / f"{k}.png")


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_idx(tmp_path, gz):
    make_mnist(tmp_path / "mnist", gz)
    data = load_data(f"mnist:{tmp_path / 'mnist'}", (1, 28, 28), 10)
    assert len(data.train) == 40 and len(data.val) == 20 and data.channels == 1
    assert data.train.images.shape == (40, 1, 28, 28) and data.train.images.dtype == torch.uint8
    assert data.train.labels.tolist()[:12] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]


def test_mnist_torchvision_layout_trains(tmp_path, capsys):
    make_mnist(tmp_path / "MNIST" / "raw", gz=True, train=64)
    code = main(["train", str(SPECS / "train_tiny.cnn"), "--data", f"mnist:{tmp_path}",
                 "--epochs", "1", "--batch-size", "32", "--out", str(tmp_path / "run")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "64 train / 20 val" in captured.out  # 28x28 resized to the spec's 8x8


def test_mnist_malformed(tmp_path):
    make_mnist(tmp_path, gz=False)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x03garbage")
    with pytest.raises(DataError, match="not an IDX file of labels"):
        load_data(f"mnist:{tmp_path}", (1, 28, 28), 10)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="has no t10k-labels-idx1-ubyte"):
        load_data(f"mnist:{tmp_path}", (1, 28, 28), 10)


def test_cifar10_batches(tmp_path):
    make_cifar(tmp_path / "cifar-10-batches-py")
    data = load_data(f"cifar10:{tmp_path}", (3, 32, 32), 10)
    assert len(data.train) == 60 and len(data.val) == 12
    assert data.train.images.shape == (60, 3, 32, 32)
    assert data.classes[0] == "class0" and data.channels == 3


def test_cifar10_trains_resized(tmp_path, capsys):
    make_cifar(tmp_path)
    code = main(["train", str(RGB), "--data", f"cifar10:{tmp_path}", "--epochs", "1",
                 "--batch-size", "16", "--out", str(tmp_path / "run")])
    assert code == 0, capsys.readouterr().err


def test_cifar10_refuses_foreign_pickles(tmp_path):
    make_cifar(tmp_path)

    class Evil:
        def __reduce__(self):
            return (print, ("owned",))
    with open(tmp_path / "data_batch_3", "wb") as handle:
        pickle.dump({b"data": Evil(), b"labels": []}, handle)
    with pytest.raises(DataError, match="not a CIFAR-10 python batch"):
        load_data(f"cifar10:{tmp_path}", (3, 32, 32), 10)
    (tmp_path / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="data_batch_3"):
        load_data(f"cifar10:{tmp_path}", (3, 32, 32), 10)


def test_imagefolder(tmp_path, capsys):
    make_imagefolder(tmp_path)
    data = load_data(f"imagefolder:{tmp_path}", (3, 16, 16), 3)
    assert data.classes == ["cat", "dog", "owl"] and len(data.train) == 12 and len(data.val) == 6
    image, label = data.train.dataset[5]
    assert image.shape == (3, 16, 16) and image.dtype == torch.uint8 and label == 1
    code = main(["train", str(RGB), "--data", f"imagefolder:{tmp_path}", "--epochs", "1",
                 "--batch-size", "4", "--out", str(tmp_path / "run")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "3 classes" in captured.out and "classes=3" in captured.out


def test_imagefolder_grey_needs_grey_spec(tmp_path):
    make_imagefolder(tmp_path, mode="L")
    assert load_data(f"imagefolder:{tmp_path}", (1, 8, 8), 3).channels == 1
    assert main(["train", str(RGB), "--data", f"imagefolder:{tmp_path}",
                 "--out", str(tmp_path / "run")]) == 1


@pytest.mark.parametrize("layout, message", [
    ([], "has no train/ sub-folder"),
    (["train/a"], "has no val/ sub-folder"),
    (["train", "val"], "has no class sub-folders"),
    (["train/a", "val/a"], "holds no images"),
])
def test_imagefolder_malformed(tmp_path, layout, message):
    for sub in layout:
        (tmp_path / sub).mkdir(parents=True)
    with pytest.raises(DataError, match=message):
        load_data(f"imagefolder:{tmp_path}", (3, 16, 16), 3)


def test_imagefolder_unknown_val_class(tmp_path):
    make_imagefolder(tmp_path, classes=("a", "b"))
    (tmp_path / "val" / "zebra").mkdir()
    with pytest.raises(DataError, match="zebra"):
        load_data(f"imagefolder:{tmp_path}", (3, 16, 16), 2)


def test_synthetic_and_digits():
    data = load_data("synthetic:100", (3, 16, 16), 7)
    assert len(data.train) == 100 and data.train.images.shape[1:] == (3, 16, 16)
    assert int(data.train.labels.max()) < 7
    digits = load_data("digits", (1, 28, 28), 10)
    assert len(digits.train) + len(digits.val) == 1797 and len(digits.val) == 359
    # the held-out split is fixed, whatever the seed
    assert torch.equal(load_data("digits", (1, 8, 8), 10, seed=5).val.labels, digits.val.labels)


def test_sharding_matches_one_process():
    """Batch k of N processes together is batch k of one process (DistributedSampler order)."""
    one = epoch_batches(103, 16, seed=3, epoch=2, rank=0, world=1)
    two = [epoch_batches(103, 16, seed=3, epoch=2, rank=r, world=2) for r in range(2)]
    assert len(one) == len(two[0]) == 6
    for k, batch in enumerate(one):
        assert sorted(batch.tolist()) == sorted(two[0][k].tolist() + two[1][k].tolist())


def test_preprocess_resizes_and_normalises():
    pre = Preprocess(scale=1 / 255, mean=[0.5], std=[0.25], size=(28, 28))
    x = pre(torch.full((2, 1, 8, 8), 255, dtype=torch.uint8))
    assert x.shape == (2, 1, 28, 28) and torch.allclose(x, torch.full_like(x, 2.0))
    batches = Batches(load_data("digits", (1, 8, 8), 10).val, torch.device("cpu"), pre)
    assert sum(len(y) for _, y in batches.validation()) == 359


def test_imagefolder_corrupt_image_in_a_worker(tmp_path, capsys):
    make_imagefolder(tmp_path)
    (tmp_path / "train" / "dog" / "1.png").write_bytes(b"not a png")
    code = main(["train", str(RGB), "--data", f"imagefolder:{tmp_path}", "--workers", "1",
                 "--epochs", "1", "--batch-size", "4", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.startswith(f"error: cannot read image {tmp_path / 'train' / 'dog' / '1.png'}: ")
    assert len(err.strip().splitlines()) == 1  # the worker's message alone
    assert "Traceback" not in err and "worker" not in err


@pytest.mark.parametrize("batch, labels, bad", [
    ("data_batch_2", [0, 10], 10), ("test_batch", [3, -1], -1), ("data_batch_5", [255], 255),
])
def test_cifar10_labels_out_of_range(tmp_path, batch, labels, bad):
    make_cifar(tmp_path)
    with open(tmp_path / batch, "wb") as handle:
        pickle.dump({b"data": np.zeros((len(labels), 3072), np.uint8), b"labels": labels}, handle)
    with pytest.raises(DataError, match=rf"{batch}: label {bad} is outside 0\.\.9"):
        load_data(f"cifar10:{tmp_path}", (3, 32, 32), 10)


@pytest.mark.parametrize("name, stray", [("train-labels-idx1-ubyte", 200),
                                         ("t10k-labels-idx1-ubyte", 10)])
def test_mnist_labels_out_of_range(tmp_path, name, stray):
    make_mnist(tmp_path, gz=False)
    data = bytearray((tmp_path / name).read_bytes())
    data[-1] = stray  # the last label
    (tmp_path / name).write_bytes(bytes(data))
    with pytest.raises(DataError, match=rf"{name}: label {stray} is outside 0\.\.9"):
        load_data(f"mnist:{tmp_path}", (1, 28, 28), 10)


def test_imagefolder_16_bit_grey_is_scaled_not_clipped(tmp_path):
    from PIL import Image
    gradient = (np.arange(20 * 24).reshape(20, 24) * 136).astype(np.uint16)  # 0 .. 65144
    for split in ("train", "val"):
        (tmp_path / split / "a").mkdir(parents=True)
        Image.fromarray(gradient).save(tmp_path / split / "a" / "0.png")
    assert Image.open(tmp_path / "train" / "a" / "0.png").mode.startswith("I")
    data = load_data(f"imagefolder:{tmp_path}", (1, 20, 24), 1)
    assert data.channels == 1
    image, _ = data.train.dataset[0]
    assert image.shape == (1, 20, 24)
    expected = torch.from_numpy(np.rint(gradient / 257.0).astype(np.uint8))
    assert torch.equal(image[0], expected)
    assert len(image.unique()) > 200  # not clipped to {0, 255}


def test_imagefolder_skips_hidden_entries(tmp_path):
    from PIL import Image
    make_imagefolder(tmp_path)
    grey = Image.fromarray(np.zeros((20, 24, 3), np.uint8))
    for hidden in ("train/.ipynb_checkpoints/0.png", "val/.ipynb_checkpoints/0.png",
                   "train/cat/.0-checkpoint.png", "train/dog/.thumbs/0.png"):
        (tmp_path / hidden).parent.mkdir(parents=True, exist_ok=True)
        grey.save(tmp_path / hidden)
    data = load_data(f"imagefolder:{tmp_path}", (3, 16, 16), 3)
    assert data.classes == ["cat", "dog", "owl"]
    assert len(data.train) == 12 and len(data.val) == 6
    assert not any("/." in path for path, _ in data.train.dataset.samples)
