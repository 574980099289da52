"""`cnndsl predict`: the digits' held-out images, written as PNG files, get the
accuracy `cnndsl eval` measures; ONNX Runtime gives the same top-1 as torch;
plain state dicts with --classes and --normalize; clear errors."""

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from PIL import Image  # noqa: E402

from cnndsl.cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "specs" / "train_tiny.cnn"


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """The tiny spec trained 3 epochs on the digits at 16x16 (so images are resized)."""
    out = tmp_path_factory.mktemp("predict-run")
    assert main(["train", str(TINY), "--epochs", "3", "--input", "1x16x16", "--out", str(out)]) == 0
    return out / "best.pt"


@pytest.fixture(scope="module")
def held_out(tmp_path_factory) -> Path:
    """The digits' held-out split as 8x8 grey PNGs (pixel values 0..16), DIGIT/NNNN.png."""
    from cnndsl.train.data.digits import SPLIT_SEED, VAL_FRACTION, _read, stratified_split
    images, labels = _read()
    _, val = stratified_split(labels, VAL_FRACTION, SPLIT_SEED)
    folder = tmp_path_factory.mktemp("held-out")
    for i in val:
        (folder / str(labels[i])).mkdir(exist_ok=True)
        Image.fromarray(images[i].reshape(8, 8).astype(np.uint8), mode="L").save(
            folder / str(labels[i]) / f"{i:04d}.png")
    return folder


def accuracy(results: list[dict]) -> float:
    right = sum(Path(r["input"]).parent.name == r["predictions"][0]["class"] for r in results)
    return right / len(results)


def test_predict_agrees_with_eval(trained, held_out, capsys):
    code, out, err = run(capsys, "eval", TINY, "--weights", trained, "--format", "json")
    assert code == 0, err
    evaluated = json.loads(out)
    code, out, err = run(capsys, "predict", TINY, "--weights", trained, held_out,
                         "--format", "json", "--top", "3")
    assert code == 0, err
    results = json.loads(out)
    assert len(results) == evaluated["count"] == 359
    assert all(len(r["predictions"]) == 3 for r in results)
    assert abs(accuracy(results) - evaluated["accuracy"]) <= 1 / 359  # one borderline image at most
    assert evaluated["accuracy"] > 0.6  # trained, not chance


def test_predict_onnx_same_top1(trained, held_out, tmp_path, capsys):
    model = tmp_path / "tiny.onnx"
    assert run(capsys, "build", TINY, "--target", "onnx", "-o", model, "--weights", trained)[0] == 0
    tops = {}
    for extra in ([], ["--onnx", model]):
        code, out, err = run(capsys, "predict", TINY, "--weights", trained, held_out,
                             "--format", "json", *extra)
        assert code == 0, err
        tops[bool(extra)] = [(r["input"], r["predictions"][0]["class"]) for r in json.loads(out)]
    assert tops[True] == tops[False]


def test_formats_and_files(trained, held_out, capsys):
    one = sorted((held_out / "3").iterdir())[0]
    code, out, _ = run(capsys, "predict", TINY, "--weights", trained, one, "--top", "2")
    assert code == 0 and str(one) in out and "%" in out
    code, out, _ = run(capsys, "predict", TINY, "--weights", trained, one, "--format", "csv",
                       "--top", "2")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["rank"] for r in rows] == ["1", "2"] and rows[0]["input"] == str(one)
    assert float(rows[0]["probability"]) >= float(rows[1]["probability"])


def test_plain_state_dict_with_classes_and_normalize(trained, held_out, tmp_path, capsys):
    saved = torch.load(trained, weights_only=True)
    torch.save(saved["model"], tmp_path / "plain.pth")
    (tmp_path / "names.txt").write_text("".join(f"digit-{k}\n" for k in range(10)))
    mean, std = saved["preprocess"]["mean"][0], saved["preprocess"]["std"][0]
    # the PNGs hold 0..16; --normalize divides by 255, so express the checkpoint's
    # (x / 16 - mean) / std as (x / 255 - mean') / std'
    factor = 255 / 16
    code, out, err = run(capsys, "predict", TINY, "--weights", tmp_path / "plain.pth",
                         "--input", "1x16x16", held_out, "--format", "json",
                         "--classes", tmp_path / "names.txt",
                         "--normalize", f"{mean / factor},{std / factor}")
    assert code == 0, err
    plain = json.loads(out)
    assert all(r["predictions"][0]["class"].startswith("digit-") for r in plain)
    code, out, _ = run(capsys, "predict", TINY, "--weights", trained, held_out, "--format", "json")
    ours = json.loads(out)
    same = sum(a["predictions"][0]["index"] == b["predictions"][0]["index"]
               for a, b in zip(plain, ours))
    assert same >= len(ours) - 1


@pytest.mark.parametrize("args, message", [
    (["/no/such.png"], "does not exist"),
    (["IMAGES", "--top", "0"], "--top must be at least 1"),
    (["IMAGES", "--normalize", "1,2,3"], "--normalize expects"),
    (["IMAGES", "--classes", "/no/such/names.txt"], "cannot read --classes"),
    (["IMAGES", "--onnx", "/no/such.onnx"], "does not exist"),
])
def test_errors(trained, held_out, args, message, capsys):
    args = [str(held_out) if a == "IMAGES" else a for a in args]
    code, _, err = run(capsys, "predict", TINY, "--weights", trained, *args)
    assert code == 1 and message in err and "Traceback" not in err


# ---- ONNX export: preprocessing in metadata_props, and baked into the graph -----

def test_onnx_metadata_records_preprocessing(trained, tmp_path, capsys):
    import hashlib

    import onnx
    model_path = tmp_path / "tiny.onnx"
    assert run(capsys, "build", TINY, "-o", model_path, "--weights", trained)[0] == 0
    props = {p.key: p.value for p in onnx.load(str(model_path)).metadata_props}
    saved = torch.load(trained, weights_only=True)
    assert props["cnndsl.preprocess.layout"] == "NCHW"
    assert props["cnndsl.preprocess.size"] == "16x16"
    assert props["cnndsl.preprocess.channels"] == "grey"
    assert float(props["cnndsl.preprocess.pixel_scale"]) == saved["preprocess"]["scale"] == 1 / 16
    assert [float(v) for v in props["cnndsl.preprocess.mean"].split(",")] == saved["preprocess"]["mean"]
    assert [float(v) for v in props["cnndsl.preprocess.std"].split(",")] == saved["preprocess"]["std"]
    assert json.loads(props["cnndsl.preprocess.classes"]) == saved["classes"]
    assert props["cnndsl.preprocess.in_graph"] == "false"
    assert props["cnndsl.weights_sha256"] == hashlib.sha256(trained.read_bytes()).hexdigest()
    assert props["cnndsl.spec_sha256"] == hashlib.sha256(TINY.read_bytes()).hexdigest()


def test_with_preprocessing_takes_raw_pixels(trained, held_out, tmp_path, capsys):
    import onnx

    from cnndsl.backends.onnx.runtime import session
    model_path = tmp_path / "raw.onnx"
    code, _, err = run(capsys, "build", TINY, "-o", model_path, "--weights", trained,
                       "--with-preprocessing")
    assert code == 0, err
    props = {p.key: p.value for p in onnx.load(str(model_path)).metadata_props}
    assert props["cnndsl.preprocess.in_graph"] == "true"
    saved = torch.load(trained, weights_only=True)
    import cnndsl
    module = cnndsl.load(TINY, input="1x16x16").to_torch().eval()
    module.load_state_dict(saved["model"])
    raw = np.random.RandomState(0).randint(0, 17, (8, 1, 16, 16)).astype(np.float32)
    prep = saved["preprocess"]
    normalised = (raw * prep["scale"] - prep["mean"][0]) / prep["std"][0]
    with torch.no_grad():
        expected = module(torch.from_numpy(normalised.astype(np.float32))).numpy()
    got = session(model_path, device="cpu").run(["output"], {"input": raw})[0]
    assert np.abs(got - expected).max() < 1e-4
    # predict --onnx reads in_graph and feeds raw pixels: the same classes as torch
    tops = []
    for extra in (["--onnx", model_path], []):
        code, out, err = run(capsys, "predict", TINY, "--weights", trained, held_out / "7",
                             "--format", "json", *extra)
        assert code == 0, err
        tops.append([r["predictions"][0]["index"] for r in json.loads(out)])
    assert tops[0] == tops[1]


def test_with_preprocessing_needs_a_checkpoint(trained, tmp_path, capsys):
    torch.save(torch.load(trained, weights_only=True)["model"], tmp_path / "plain.pth")
    code, _, err = run(capsys, "build", TINY, "--input", "1x16x16", "-o", tmp_path / "m.onnx",
                       "--weights", tmp_path / "plain.pth", "--with-preprocessing")
    assert code == 1 and "needs the preprocessing" in err and not (tmp_path / "m.onnx").exists()
