"""The files `cnndsl build` reads and writes: every kind of weights file a user
may hand over, for both targets, is either loaded or refused with one clear
line (exit 1), never a traceback; and no output path ever destroys an input
(the spec, a library it imports, the weights)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import cnndsl  # noqa: E402
from cnndsl.cli import main  # noqa: E402

from conftest import ROOT  # noqa: E402

SPEC = ROOT / "tests" / "specs" / "torch_residual.cnn"
TARGETS = {"torch": "model.py", "onnx": "model.onnx"}


def build(capsys, tmp_path, target, weights, *extra):
    out = tmp_path / TARGETS[target]
    code = main(["build", str(SPEC), "--target", target, "-o", str(out), "--weights", str(weights),
                 *extra])
    return code, capsys.readouterr().err, out


def bad_files(tmp_path, state):
    (tmp_path / "corrupt.pt").write_bytes(b"\x80\x02 not a torch file")
    torch.save([1, 2, 3], tmp_path / "list.pt")
    torch.save({"epoch": 3, "lr": 0.1}, tmp_path / "numbers.pt")
    wrong = dict(state)
    wrong[next(iter(wrong))] = torch.zeros(2, 2)
    torch.save(wrong, tmp_path / "wrong_shape.pt")
    return {
        "missing": (tmp_path / "absent.pt", "does not exist"),
        "corrupt": (tmp_path / "corrupt.pt", "corrupt or not a torch file"),
        "list": (tmp_path / "list.pt", "neither a cnndsl checkpoint nor a state dict"),
        "no tensors": (tmp_path / "numbers.pt", "neither a cnndsl checkpoint nor a state dict"),
        "wrong shape": (tmp_path / "wrong_shape.pt", "2x2"),
    }


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("case", ["missing", "corrupt", "list", "no tensors", "wrong shape"])
def test_bad_weights_are_a_clear_error(capsys, tmp_path, target, case):
    state = cnndsl.load(SPEC).to_torch().state_dict()
    path, message = bad_files(tmp_path, state)[case]
    code, err, out = build(capsys, tmp_path, target, path)
    assert code == 1, err
    assert message in err.replace("[2, 2]", "2x2")
    assert "Traceback" not in err and "internal error" not in err
    assert not out.exists()


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("layout", ["bare", "cnndsl checkpoint", "wrapped", "DataParallel",
                                    "torch.compile", "bfloat16", "other names"])
def test_weights_load_from_every_common_layout(capsys, tmp_path, target, layout):
    net = cnndsl.load(SPEC)
    state = net.to_torch().state_dict()
    payload = {
        "bare": state,
        "cnndsl checkpoint": {"format": "cnndsl-checkpoint/1", "epoch": 2, "model": state},
        "wrapped": {"state_dict": state, "epoch": 2},
        "DataParallel": {f"module.{k}": v for k, v in state.items()},
        "torch.compile": {f"_orig_mod.{k}": v for k, v in state.items()},
        "bfloat16": {k: v.bfloat16() if v.is_floating_point() else v for k, v in state.items()},
        "other names": {f"features.{i}.{k.rsplit('.', 1)[-1]}": v   # paired by declaration order
                        for i, (k, v) in enumerate(state.items())},
    }[layout]
    torch.save(payload, tmp_path / "weights.pt")
    extra = ["--by-order"] if layout == "other names" else []
    code, err, out = build(capsys, tmp_path, target, tmp_path / "weights.pt", *extra)
    assert code == 0, err
    assert out.exists()


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_other_names_need_by_order_and_say_so(capsys, tmp_path, target):
    """Weights named another way (a checkpoint from before the zoo's labels) pair by
    name, so they do not fit; the error says that declaration order would pair them."""
    state = cnndsl.load(SPEC).to_torch().state_dict()
    renamed = {f"features.{i}.{k.rsplit('.', 1)[-1]}": v for i, (k, v) in enumerate(state.items())}
    torch.save(renamed, tmp_path / "weights.pt")
    code, err, out = build(capsys, tmp_path, target, tmp_path / "weights.pt")
    assert code == 1 and not out.exists()
    assert "declaration order pairs" in err and "--by-order" in err
    assert "Traceback" not in err


def test_torch_target_never_overwrites_the_weights_it_reads(capsys, tmp_path):
    state = cnndsl.load(SPEC).to_torch().state_dict()
    checkpoint = {"format": "cnndsl-checkpoint/1", "model": state, "optimizer": {}}
    torch.save(checkpoint, tmp_path / "model.pt")
    before = (tmp_path / "model.pt").read_bytes()
    code, err, out = build(capsys, tmp_path, "torch", tmp_path / "model.pt")
    assert code == 1 and "refusing to write" in err
    assert "the weights file this command reads" in err
    assert (tmp_path / "model.pt").read_bytes() == before and not out.exists()


def spec_with_library(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "blocks.cnn").write_text("block unit(c) { conv(c, 3, pad=1); relu }\n")
    spec = tmp_path / "net.cnn"
    spec.write_text('import "lib/blocks.cnn"\nnetwork net { input 3x8x8; unit(4); '
                    'avgpool(global); flatten; fc(2) }\n')
    return spec


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("victim", ["net.cnn", "lib/blocks.cnn", "weights.pt"])
def test_output_never_overwrites_an_input(capsys, tmp_path, target, victim):
    spec = spec_with_library(tmp_path)
    torch.save(cnndsl.load(spec).to_torch().state_dict(), tmp_path / "weights.pt")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    code = main(["build", str(spec), "--target", target, "-o", str(tmp_path / victim),
                 "--weights", str(tmp_path / "weights.pt")])
    err = capsys.readouterr().err
    assert code == 1 and "refusing to write" in err and "Traceback" not in err
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("where", ["a directory", "an unwritable place"])
def test_unwritable_output_is_one_clear_line(capsys, tmp_path, target, where):
    out = {"a directory": tmp_path, "an unwritable place": "/proc/cnndsl/model.out"}[where]
    code = main(["build", str(SPEC), "--target", target, "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "cannot write" in err and "internal error" not in err and "Traceback" not in err


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_output_directories_are_created(capsys, tmp_path, target):
    out = tmp_path / "new" / "dir" / TARGETS[target]
    assert main(["build", str(SPEC), "--target", target, "-o", str(out)]) == 0
    assert out.is_file()


def test_torch_source_and_weights_need_two_names(capsys, tmp_path):
    state = cnndsl.load(SPEC).to_torch().state_dict()
    torch.save(state, tmp_path / "weights.pt")
    code, err, _ = build(capsys, tmp_path, "torch", tmp_path / "weights.pt")
    assert code == 0 and (tmp_path / "model.pt").is_file()
    code = main(["build", str(SPEC), "--target", "torch", "-o", str(tmp_path / "m.pt"),
                 "--weights", str(tmp_path / "weights.pt")])
    assert code == 1 and "both the source and the weights" in capsys.readouterr().err
    assert not (tmp_path / "m.pt").exists()


def test_onnx_only_options_are_noted_for_the_torch_target(capsys, tmp_path):
    code = main(["build", str(SPEC), "--target", "torch", "-o", str(tmp_path / "m.py"),
                 "--opset", "18", "--no-fold-bn"])
    assert code == 0 and "apply to --target onnx; ignored" in capsys.readouterr().err


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_checkpoint_builds_the_network_it_was_trained_as(capsys, tmp_path, target):
    """`cnndsl train` may set classes from the data and takes --input/--set; the
    checkpoint records them, and build uses them unless told otherwise."""
    spec = ROOT / "specs" / "lenet5.cnn"
    trained = cnndsl.load(spec, input="1x32x32", params={"classes": 3})
    torch.save({"format": "cnndsl-checkpoint/1", "input": [1, 32, 32],
                "params": dict(trained.graph.params), "model": trained.to_torch().state_dict()},
               tmp_path / "best.pt")
    out = tmp_path / TARGETS[target]
    code = main(["build", str(spec), "--target", target, "-o", str(out),
                 "--weights", str(tmp_path / "best.pt")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "as the checkpoint was trained: input 1x32x32, classes=3" in err
    code = main(["build", str(spec), "--target", target, "-o", str(out), "--input", "1x28x28",
                 "--weights", str(tmp_path / "best.pt")])
    err = capsys.readouterr().err  # what the user says wins: fc1 sees 50x7x7, not 50x8x8
    assert code == 1 and "fc1.weight" in err and "3200" in err


def test_checkpoint_of_a_spec_without_an_input_line(capsys, tmp_path):
    """The input came from `train --input`; build takes it from the checkpoint, and
    the spec's warnings are printed once."""
    spec = tmp_path / "tr.cnn"
    spec.write_text("network tr(classes = 4, unused = 1) {\n  conv(8, 3, pad=1); relu\n"
                    "  avgpool(global); flatten; fc(classes)\n}\n")
    trained = cnndsl.load(spec, input="3x8x8", params={"classes": 10})
    torch.save({"format": "cnndsl-checkpoint/1", "input": [3, 8, 8],
                "params": dict(trained.graph.params), "model": trained.to_torch().state_dict()},
               tmp_path / "best.pt")
    code = main(["build", str(spec), "--target", "onnx", "-o", str(tmp_path / "m.onnx"),
                 "--weights", str(tmp_path / "best.pt")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "as the checkpoint was trained: input 3x8x8, classes=10" in err
    assert err.count("never uses its parameter 'unused'") == 1
