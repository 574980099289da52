"""Issue 11 items 4 (internal errors instead of clear ones: data files, checkpoints,
state dicts, options), 5 (the gzip bomb), 6 (integrity: digests, NaN weights) and
8 (heads that do not fit the classes): each a clear error or note, never a
traceback."""

from __future__ import annotations

import json
import pickle
import random
import struct
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cnndsl.cli import main  # noqa: E402
from cnndsl.state_dicts import digest  # noqa: E402
from cnndsl.train.data import load_data  # noqa: E402
from cnndsl.train.errors import DataError  # noqa: E402

from conftest import ROOT  # noqa: E402
from test_train_data import make_cifar, make_imagefolder, make_mnist  # noqa: E402

SPECS = ROOT / "tests" / "specs"
TINY = SPECS / "train_tiny.cnn"


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "internal error" not in err, err
    return code, out, err


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny") / "run"
    assert main(["train", str(TINY), "--epochs", "1", "--out", str(out)]) == 0
    return out


# ---- ImageFolder: a decompression bomb sorting first -------------------------------

def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height pixels in a few bytes."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("side", [10_000, 50_000])  # PIL's warning, then its error, range
def test_decompression_bomb_first_in_a_class(tmp_path, capsys, side):
    make_imagefolder(tmp_path / "data", classes=("cat", "dog"))
    (tmp_path / "data" / "train" / "cat" / "000.png").write_bytes(png_header_only(side, side))
    code, _, err = run_cli(capsys, "train", TINY, "--data", f"imagefolder:{tmp_path / 'data'}",
                           "--input", "3x8x8", "--out", tmp_path / "run")
    assert code == 1 and "000.png is too large to decode" in err
    assert "89,478,485 pixels" in err and "CNNDSL_MAX_IMAGE_PIXELS" in err


# ---- MNIST IDX ------------------------------------------------------------------------

def idx(magic: int, dims, payload: bytes = b"") -> bytes:
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + payload


@pytest.mark.parametrize("case, images, message", [
    ("zero images", idx(0x803, [0, 28, 28]), "holds no images"),
    ("0x0 images", idx(0x803, [5, 0, 0]), "its images are 0x0 pixels"),
    ("overflowing header", idx(0x803, [0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF]),
     "over the limit of 4,294,967,296 bytes"),
    ("short header", struct.pack(">I", 0x803) + b"\x00\x00", "its header ends early"),
])
def test_malformed_mnist_headers(tmp_path, case, images, message):
    make_mnist(tmp_path, gz=False)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(images)
    with pytest.raises(DataError, match=message):
        load_data(f"mnist:{tmp_path}", (1, 28, 28), 10)


def test_gzip_bomb_is_refused_without_unpacking_it(tmp_path):
    """The header says 40 images of 28x28; the stream then inflates to 256 MB more.
    The reader stops after the announced bytes: it never holds the rest."""
    make_mnist(tmp_path, gz=True)
    header = idx(0x803, [40, 28, 28], bytes(40 * 28 * 28))
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    with open(tmp_path / "train-images-idx3-ubyte.gz", "wb") as handle:
        handle.write(packer.compress(header))
        zeros = bytes(1 << 24)
        for _ in range(16):
            handle.write(packer.compress(zeros))
        handle.write(packer.flush())
    assert (tmp_path / "train-images-idx3-ubyte.gz").stat().st_size < 1_000_000
    tracemalloc.start()
    with pytest.raises(DataError, match="is padded"):
        load_data(f"mnist:{tmp_path}", (1, 28, 28), 10)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 64 << 20, f"{peak:,} bytes held"


def test_mnist_with_one_class_is_refused(tmp_path, capsys):
    make_mnist(tmp_path / "m", gz=False)
    for name, n in (("train-labels-idx1-ubyte", 40), ("t10k-labels-idx1-ubyte", 20)):
        (tmp_path / "m" / name).write_bytes(idx(0x801, [n], bytes(n)))  # every label 0
    code, _, err = run_cli(capsys, "train", TINY, "--data", f"mnist:{tmp_path / 'm'}",
                           "--out", tmp_path / "run")
    assert code == 1 and "has 1 class" in err and "at least" in err


# ---- CIFAR-10 batches --------------------------------------------------------------

def rewrite(path, **entries):
    with open(path, "rb") as handle:
        batch = pickle.load(handle, encoding="bytes")
    batch.update({k.encode(): v for k, v in entries.items()})
    with open(path, "wb") as handle:
        pickle.dump(batch, handle, protocol=2)


@pytest.mark.parametrize("case, file, entries, message", [
    ("float pixels", "data_batch_1", {"data": np.full((12, 3072), 0.5)},
     "float64 values, not whole numbers"),
    ("pixels above 255", "data_batch_2", {"data": np.full((12, 3072), 300, dtype=np.int32)},
     "pixel values run from 300 to 300"),
    ("string labels", "test_batch", {"labels": ["cat"] * 12}, "not whole numbers"),
    ("labels beyond the classes", "data_batch_3", {"labels": list(range(5, 17))},
     "label 10 is outside 0..9"),
    ("no images", "data_batch_4", {"data": np.zeros((0, 3072), np.uint8), "labels": []},
     "holds no images"),
    ("five label names", "batches.meta", {"label_names": [b"a", b"b", b"c", b"d", b"e"]},
     "label_names must be a list of 10 class names, got a list of 5"),
    ("label names not a list", "batches.meta", {"label_names": {b"a": 1}},
     "label_names must be a list of 10 class names, got a dict"),
])
def test_malformed_cifar_batches(tmp_path, case, file, entries, message):
    make_cifar(tmp_path)
    rewrite(tmp_path / file, **entries)
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_data(f"cifar10:{tmp_path}", (3, 32, 32), 10)


# ---- weights files and checkpoints -----------------------------------------------------

def test_state_dict_with_non_string_keys(tmp_path, capsys):
    torch.save({1: torch.zeros(2), "b": torch.zeros(3)}, tmp_path / "odd.pt")
    for argv in (["build", TINY, "--target", "torch", "-o", tmp_path / "m.py"],
                 ["train", TINY, "--out", tmp_path / "run", "--init"]):
        code, _, err = run_cli(capsys, *argv, *(["--weights"] if argv[0] == "build" else []),
                               tmp_path / "odd.pt")
        assert code == 1 and "key 1 is a int, not a parameter name" in err


def test_weights_with_python_objects_never_suggest_weights_only_false(tmp_path, capsys):
    torch.save({"w": np.zeros(3)}, tmp_path / "numpy.pt")  # needs a pickled numpy global
    for argv in (["eval", TINY, "--weights", tmp_path / "numpy.pt"],
                 ["build", TINY, "--target", "onnx", "-o", tmp_path / "m.onnx", "--weights",
                  tmp_path / "numpy.pt"]):
        code, _, err = run_cli(capsys, *argv)
        assert code == 1 and "holds Python objects" in err
        assert "weights_only" not in err and "\x1b" not in err


def tampered(run, tmp_path, change, redigest=True, name="last.pt"):
    saved = torch.load(run / "last.pt", weights_only=True)
    change(saved)
    if redigest:
        saved["sha256"] = digest(saved)
    folder = tmp_path / "tampered"
    folder.mkdir(exist_ok=True)
    torch.save(saved, folder / name)
    return folder


TAMPERING = {
    "missing model": (lambda d: d.pop("model"), "has no 'model' entry"),
    "bad rng": (lambda d: d["rng"].update(torch=torch.zeros(3)), "random-number state"),
    "bad history": (lambda d: d["history"][0].update(val_acc="high"), "history rows"),
    "bad config": (lambda d: d["config"].update(epochs="ten"), "its config: epochs is 'ten'"),
    "invalid config": (lambda d: d["config"].update(lr=-1.0), "--lr must be"),
    "extra tensor": (lambda d: d["model"].update(extra=torch.zeros(2)), "unexpected extra"),
    "negative epoch": (lambda d: d.update(epoch=-5), "its epoch -5 is not a count"),
    "optimizer of another run": (lambda d: d["optimizer"]["param_groups"].clear(),
                                 "optimizer state does not fit"),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_tampered_checkpoints_that_keep_the_marker(tiny_run, tmp_path, capsys, case):
    change, message = TAMPERING[case]
    folder = tampered(tiny_run, tmp_path, change)
    code, out, err = run_cli(capsys, "train", TINY, "--resume", "--epochs", "2", "--out", folder)
    assert code == 1 and message in err, err
    assert "epoch 2/2" not in out  # nothing was trained from it
    if case != "optimizer of another run":  # eval does not read the optimizer
        code, _, err = run_cli(capsys, "eval", TINY, "--weights", folder / "last.pt")
        assert code == 1 and message in err, err


def test_flipped_bytes_in_the_tensors_are_caught(tiny_run, tmp_path, capsys):
    """50 random byte flips in a checkpoint's tensor data loaded silently (eval said
    41.5%); the digest it was saved with no longer matches."""
    path = tmp_path / "best.pt"
    data = bytearray((tiny_run / "best.pt").read_bytes())
    with zipfile.ZipFile(tiny_run / "best.pt") as archive:
        spans = []
        for info in archive.infolist():
            if "/data/" in info.filename and info.file_size > 64:
                start = info.header_offset + 30 + len(info.filename) + len(info.extra)
                spans.append((start, start + info.file_size))
    rng = random.Random(0)
    for _ in range(50):
        start, end = rng.choice(spans)
        data[rng.randrange(start, end)] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(data))
    for argv in (["eval", TINY, "--weights", path],
                 ["build", TINY, "--target", "torch", "-o", tmp_path / "m.py", "--weights", path],
                 ["train", TINY, "--out", tmp_path / "run", "--init", path]):
        code, _, err = run_cli(capsys, *argv)
        assert code == 1 and f"checkpoint {path} is damaged" in err, err
        assert "sha256 digest" in err


def test_checkpoints_without_a_digest_still_load_with_a_note(tiny_run, tmp_path, capsys):
    folder = tampered(tiny_run, tmp_path, lambda d: d.pop("sha256"), redigest=False)
    code, _, err = run_cli(capsys, "eval", TINY, "--weights", folder / "last.pt")
    assert code == 0 and "carries no digest" in err
    code, _, err = run_cli(capsys, "build", TINY, "--target", "torch", "-o",
                           tmp_path / "m.py", "--weights", folder / "last.pt")
    assert code == 0 and "carries no digest" in err


def test_nan_weights_never_make_eval_print_nan(tiny_run, tmp_path, capsys):
    folder = tampered(tiny_run, tmp_path, lambda d: d["model"]["fc1.weight"].fill_(float("nan")))
    code, out, err = run_cli(capsys, "eval", TINY, "--weights", folder / "last.pt",
                             "--format", "json")
    assert code == 1 and "NaN or infinite values in 1 tensor (fc1.weight)" in err
    assert "NaN" not in out


def test_eval_json_is_strict_json(tiny_run, capsys):
    code, out, _ = run_cli(capsys, "eval", TINY, "--weights", tiny_run / "best.pt",
                           "--format", "json")
    assert code == 0
    json.loads(out, parse_constant=lambda c: pytest.fail(f"{c} in eval's JSON"))


# ---- options ----------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["--lr", "1e300"], "--lr must be a finite positive number in float32"),
    (["--weight-decay", "1e300"], "--weight-decay must be a finite number >= 0 in float32"),
    (["--data", "synthetic:1000000000000"], "over the limit of 10,000,000 samples"),
])
def test_options_beyond_what_training_can_use(tmp_path, capsys, args, message):
    code, _, err = run_cli(capsys, "train", TINY, "--out", tmp_path / "run", *args)
    assert code == 1 and message in err
    assert not (tmp_path / "run").exists()


def test_a_huge_but_float32_learning_rate_diverges_cleanly(tmp_path, capsys):
    code, _, err = run_cli(capsys, "train", TINY, "--out", tmp_path / "run", "--lr", "3e37",
                           "--epochs", "1")
    assert code == 1 and "the loss became" in err


# ---- item 8: the head must fit the classes ---------------------------------------------

@pytest.mark.parametrize("head, message", [
    ("fc(1)", "outputs 1 score per image with classes=10, but digits has 10 classes"),
    ("fc(classes * 2)", "outputs 20 scores per image with classes=10"),
])
def test_a_head_that_does_not_fit_the_classes(tmp_path, capsys, head, message):
    spec = tmp_path / "one.cnn"
    spec.write_text(f"network one(classes = 10) {{ input 1x28x28; flatten; {head} }}\n")
    code, _, err = run_cli(capsys, "train", spec, "--out", tmp_path / "run")
    assert code == 1 and message in err and "fc(classes)" in err


def test_a_one_class_data_set_is_refused(tmp_path, capsys):
    make_imagefolder(tmp_path / "data", mode="L", classes=("only",))
    code, _, err = run_cli(capsys, "train", TINY, "--data", f"imagefolder:{tmp_path / 'data'}",
                           "--out", tmp_path / "run")
    assert code == 1 and "has 1 class ('only')" in err
