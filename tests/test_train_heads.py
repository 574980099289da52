"""`cnndsl train` on a network with an output head: the objective is the main loss
plus the head's, weighted; metrics.csv logs each; the optimiser's step is the
gradient of exactly that sum (replayed by hand on the one batch of the run)."""

import copy
import csv
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import cnndsl  # noqa: E402
import cnndsl.train.loop as loop  # noqa: E402
from cnndsl.cli import main  # noqa: E402
from cnndsl.train.config import TrainConfig  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "tests" / "specs" / "train_aux.cnn"
LR, SMOOTHING, BATCH = 0.1, 0.1, 32


def rows(folder: Path) -> list[dict]:
    with open(folder / "metrics.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def one_step_run(tmp_path, monkeypatch, aux_weight=None):
    """Train one step (one batch of 32 synthetic images, SGD, constant lr, no
    augmentation), recording the batch, the labels, the loss and the initial weights."""
    seen = {}
    real = loop.objective

    def recording(outputs, labels, weights, label_smoothing):
        loss, losses = real(outputs, labels, weights, label_smoothing)
        seen.setdefault("labels", labels.clone())
        seen.setdefault("loss", loss.item())
        seen.setdefault("weights", dict(weights))
        return loss, losses

    def build(net):
        model = net.to_torch()
        seen["initial"] = copy.deepcopy(model.state_dict())
        model.register_forward_pre_hook(
            lambda module, args: seen.setdefault("x", args[0].clone()) if module.training
            else None)
        return model

    monkeypatch.setattr(loop, "objective", recording)
    config = TrainConfig(spec=str(SPEC), data=f"synthetic:{BATCH}", epochs=1, batch_size=BATCH,
                         lr=LR, optimizer="sgd", schedule="none", weight_decay=0.0,
                         label_smoothing=SMOOTHING, augment=False, device="cpu",
                         out=str(tmp_path / "run"), aux_weight=aux_weight or {})
    loop.train(config, fancy=False, build_model=build)
    return seen, tmp_path / "run"


def replay(seen, weights):
    """The initial model on the recorded batch: the weighted loss and each output's,
    and the SGD step (Nesterov momentum 0.9: the first update is lr * 1.9 * grad)."""
    model = cnndsl.load(SPEC).to_torch()
    model.load_state_dict(seen["initial"])
    out = model.train()(seen["x"])
    parts = [F.cross_entropy(v, seen["labels"], label_smoothing=SMOOTHING) for v in out]
    loss = sum(w * p for w, p in zip(weights, parts))
    loss.backward()
    stepped = {name: (p - LR * 1.9 * p.grad).detach() for name, p in model.named_parameters()}
    return loss.item(), [p.item() for p in parts], stepped


def test_weighted_sum_is_what_the_optimiser_minimised(tmp_path, monkeypatch):
    seen, run = one_step_run(tmp_path, monkeypatch)
    assert seen["weights"] == {"output": 1.0, "aux1": 0.3}  # the spec's weight
    loss, (main_loss, aux_loss), stepped = replay(seen, [1.0, 0.3])
    assert seen["loss"] == pytest.approx(main_loss + 0.3 * aux_loss, rel=1e-6)
    assert loss == pytest.approx(seen["loss"], rel=1e-6)
    [row] = rows(run)  # one epoch of one step: its mean loss is that step's
    assert float(row["train_loss"]) == pytest.approx(loss, rel=1e-5)
    assert float(row["train_loss_output"]) == pytest.approx(main_loss, rel=1e-5)
    assert float(row["train_loss_aux1"]) == pytest.approx(aux_loss, rel=1e-5)
    trained = torch.load(run / "last.pt", weights_only=True)["model"]
    for name, expected in stepped.items():
        assert torch.allclose(trained[name], expected, atol=1e-6), name
    # the main loss alone would have left the head untouched and moved conv1 otherwise
    _, _, main_only = replay(seen, [1.0, 0.0])
    assert torch.equal(main_only["aux1.fc1.weight"], seen["initial"]["aux1.fc1.weight"])
    assert not torch.allclose(trained["conv1.weight"], main_only["conv1.weight"], atol=1e-6)
    # validation and the checkpoints' accuracy are the main output's (eval mode returns it)
    assert float(row["val_acc"]) >= 0.0 and "val_loss_aux1" not in row


def test_command_line_weights_and_metrics_columns(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", str(SPEC), "--data", "synthetic:64", "--epochs", "2",
                 "--batch-size", "32", "--aux-weight", "aux1=0.5", "--no-augment",
                 "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert "loss: output + 0.5 x aux1" in capsys.readouterr().out
    with open(out / "metrics.csv") as handle:
        assert handle.readline().strip() == (
            "epoch,train_loss,train_acc,val_loss,val_acc,lr,images_per_s,seconds,"
            "val_top5,train_loss_output,train_loss_aux1")  # synthetic data: 10 classes
    for row in rows(out):
        total = float(row["train_loss_output"]) + 0.5 * float(row["train_loss_aux1"])
        assert float(row["train_loss"]) == pytest.approx(total, rel=1e-4)
    saved = torch.load(out / "last.pt", weights_only=True)
    assert saved["config"]["aux_weight"] == {"aux1": 0.5}
    assert any(k.startswith("aux1.") for k in saved["model"])  # resumable: heads are kept


@pytest.mark.parametrize("args, message", [
    (["--aux-weight", "aux2=0.3"], "has no output head 'aux2' (its heads: aux1)"),
    (["--aux-weight", "output=0.3"], "has no output head 'output'"),
    (["--aux-weight", "aux1"], "--aux-weight expects HEAD=WEIGHT"),
    (["--aux-weight", "aux1=-1"], "a head's loss weight must be a finite number >= 0"),
])
def test_bad_aux_weights_are_clear_errors(tmp_path, capsys, args, message):
    code = main(["train", str(SPEC), "--data", "synthetic:32", "--epochs", "1",
                 "--out", str(tmp_path / "run"), *args])
    err = capsys.readouterr().err
    assert code != 0 and message in err and "Traceback" not in err


def test_a_head_with_other_scores_than_the_main_output_is_refused(tmp_path, capsys):
    spec = tmp_path / "odd.cnn"
    spec.write_text(SPEC.read_text().replace("fc(classes) }", "fc(3) }"))
    code = main(["train", str(spec), "--data", "synthetic:32", "--epochs", "1",
                 "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code != 0 and "output head 'aux1' makes 3 scores, the main output 10" in err
