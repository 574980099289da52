"""Train-data workflows: imagefolder --val-split (stratified, seeded, recorded
for resume and eval), --augment presets, top-5 accuracy, --patience, --log
tensorboard, no empty run folder after a failed start, readable 1-epoch curves."""

import csv
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from PIL import Image  # noqa: E402

from cnndsl.cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "specs" / "train_tiny.cnn"
HAS_TENSORBOARD = importlib.util.find_spec("tensorboard") is not None


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def header(folder: Path) -> list[str]:
    with open(folder / "metrics.csv", newline="") as handle:
        return next(csv.reader(handle))


@pytest.fixture(scope="module")
def one_folder(tmp_path_factory) -> Path:
    """PATH/CLASS/IMAGE, no train/ or val/: 3 classes of 10 grey 8x8 images each
    (bright top, bright bottom, bright left half), a little noise."""
    root = tmp_path_factory.mktemp("flowers")
    rng = np.random.RandomState(0)
    masks = {"top": np.s_[:4, :], "bottom": np.s_[4:, :], "left": np.s_[:, :4]}
    for name, mask in masks.items():
        (root / name).mkdir()
        for k in range(10):
            image = rng.randint(0, 40, (8, 8)).astype(np.uint8)
            image[mask] += 200
            Image.fromarray(image, mode="L").save(root / name / f"{k}.png")
    return root


def test_val_split_is_stratified_recorded_and_reused(one_folder, tmp_path, capsys):
    out = tmp_path / "run"
    code, text, err = run(capsys, "train", TINY, "--data", f"imagefolder:{one_folder}",
                          "--val-split", "0.2", "--epochs", "1", "--out", out, "--seed", "3")
    assert code == 0, err
    assert "24 train / 6 val images" in text  # 2 of each class's 10
    saved = torch.load(out / "last.pt", weights_only=True)
    assert saved["config"]["val_split"] == 0.2 and saved["config"]["seed"] == 3
    assert saved["classes"] == ["bottom", "left", "top"]
    code, text, err = run(capsys, "eval", TINY, "--weights", out / "best.pt")
    assert code == 0, err
    assert "6 images" in text
    code, text, err = run(capsys, "train", TINY, "--resume", "--out", out, "--epochs", "2")
    assert code == 0, err
    assert "24 train / 6 val images" in text
    assert "top5" not in "".join(header(out)) and "val_top5" not in header(out)  # 3 classes


def test_split_function_is_stratified_and_seeded():
    from cnndsl.train.data.split import stratified
    labels = [0] * 10 + [1] * 20 + [2] * 5
    train, val = stratified(labels, 0.2, 7, "x")
    assert sorted(train + val) == list(range(35)) and not set(train) & set(val)
    assert [sum(labels[i] == c for i in val) for c in (0, 1, 2)] == [2, 4, 1]
    assert stratified(labels, 0.2, 7, "x") == (train, val)
    assert stratified(labels, 0.2, 8, "x")[1] != val


@pytest.mark.parametrize("args, message", [
    (["--val-split", "1.5"], "--val-split must be a fraction"),
    (["--val-split", "0.2", "--data", "digits"], "--val-split applies to imagefolder"),
    (["--patience", "0"], "--patience must be at least 1"),
])
def test_option_errors(args, message, tmp_path, capsys):
    code, _, err = run(capsys, "train", TINY, "--out", tmp_path / "r", *args)
    assert code == 1 and message in err
    assert not (tmp_path / "r").exists()


def test_unsplit_folder_hints_at_val_split(one_folder, tmp_path, capsys):
    code, _, err = run(capsys, "train", TINY, "--data", f"imagefolder:{one_folder}",
                       "--out", tmp_path / "r")
    assert code == 1 and "has no train/ sub-folder" in err and "--val-split 0.2" in err


def test_failed_start_leaves_no_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "train", TINY, "--data", "imagefolder:/no/such/folder")
    assert code == 1 and "does not exist" in err
    assert list(tmp_path.iterdir()) == []  # neither runs/tiny nor runs/
    code, _, err = run(capsys, "train", TINY, "--freeze", "nosuchlayer")
    assert code == 1 and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["cifar", "imagenet"])
def test_augment_presets_change_images_not_shapes(name):
    from cnndsl.train.augment import transform
    torch.manual_seed(0)
    pipeline = transform(name, (16, 16))
    x = torch.randn(3, 16, 16)
    outs = [pipeline(x) for _ in range(8)]
    assert all(o.shape == x.shape for o in outs)
    assert any(not torch.equal(o, x) for o in outs)


def test_augment_defaults_per_data_set():
    from cnndsl.train.augment import preset
    assert [preset(None, s) for s in ("digits", "mnist:/m", "cifar10:/c", "imagefolder:/f")] == \
        ["shift", "shift", "cifar", "imagenet"]
    assert preset(True, "cifar10:/c") == "shift" and preset(False, "digits") == "none"
    assert preset("imagenet", "digits") == "imagenet"


def test_augment_cifar_trains_and_is_recorded(tmp_path, capsys):
    code, _, err = run(capsys, "train", TINY, "--augment", "cifar", "--epochs", "1",
                       "--out", tmp_path)
    assert code == 0, err
    assert torch.load(tmp_path / "last.pt", weights_only=True)["config"]["augment"] == "cifar"


def test_top5_and_patience(tmp_path, capsys):
    # a learning rate this small leaves validation accuracy where it starts:
    # never better than epoch 1, so --patience 2 stops after epoch 3 of 6
    code, text, err = run(capsys, "train", TINY, "--epochs", "6", "--patience", "2",
                          "--lr", "1e-9", "--out", tmp_path)
    assert code == 0, err
    assert "early stop after epoch 3" in text and "best.pt is epoch 1" in text
    assert header(tmp_path)[-1] == "val_top5"  # the digits have 10 classes
    saved = torch.load(tmp_path / "last.pt", weights_only=True)
    assert saved["epoch"] == 3 and 0 <= saved["history"][-1]["val_top5"] <= 1
    assert saved["history"][-1]["val_top5"] >= saved["history"][-1]["val_acc"]
    assert torch.load(tmp_path / "best.pt", weights_only=True)["epoch"] == 1
    code, text, _ = run(capsys, "eval", TINY, "--weights", tmp_path / "best.pt")
    assert code == 0 and "top-5" in text


@pytest.mark.skipif(not HAS_TENSORBOARD, reason="tensorboard is not installed (optional)")
def test_tensorboard_log(tmp_path, capsys):
    code, _, err = run(capsys, "train", TINY, "--epochs", "2", "--log", "tensorboard",
                       "--out", tmp_path)
    assert code == 0, err
    events = list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(tmp_path / "tensorboard"))
    acc.Reload()
    assert [e.step for e in acc.Scalars("accuracy/val")] == [1, 2]


def test_tensorboard_missing_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails, as without it
    code, _, err = run(capsys, "train", TINY, "--epochs", "1", "--log", "tensorboard",
                       "--out", tmp_path / "r")
    assert code == 1 and "needs the tensorboard package" in err
    assert not (tmp_path / "r").exists()


def test_one_epoch_curves_are_readable():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cnndsl.train.metrics import _readable_epochs
    fig, ax = plt.subplots()
    ax.plot([1], [2.3], "o-")
    ax.set_ylabel("loss")
    _readable_epochs(ax, [1])
    assert list(ax.get_xticks()) == [1] and ax.get_xlim() == (0.5, 1.5)
    assert ax.get_ylim()[0] == 0 and [t.get_text() for t in ax.texts] == ["2.3"]
    plt.close(fig)
