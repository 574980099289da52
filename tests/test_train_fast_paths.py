"""The fast paths of `cnndsl train` compute what the plain ones do (timings are
benchmarks/train_vs_handwritten.py's job, not a test's): the optimizers without
torch._dynamo, in-memory data preprocessed once, best.pt linked to last.pt."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cnndsl.files import duplicate_atomic
from cnndsl.train.batches import Batches, Preprocess
from cnndsl.train.data import TensorSplit, load_data
from cnndsl.train.optim import make_optimizer

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "specs" / "train_tiny.cnn"


def _twins(seed=0):
    torch.manual_seed(seed)
    a = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3), torch.nn.Flatten(), torch.nn.Linear(16, 3))
    b = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3), torch.nn.Flatten(), torch.nn.Linear(16, 3))
    b.load_state_dict(a.state_dict())
    return a, b


def _groups(model, decay):
    return [{"params": [p for p in model.parameters() if p.ndim >= 2], "weight_decay": decay},
            {"params": [p for p in model.parameters() if p.ndim < 2], "weight_decay": 0.0}]


@pytest.mark.parametrize("name, reference", [
    ("adamw", lambda g: torch.optim.AdamW(g, lr=1e-2)),
    ("sgd", lambda g: torch.optim.SGD(g, lr=1e-2, momentum=0.9, nesterov=True)),
])
def test_optimizer_follows_torchs_update_and_state(name, reference):
    ours_model, ref_model = _twins()
    ours = make_optimizer(name, _groups(ours_model, 0.05), 1e-2, torch.device("cpu"), compiled=False)
    ref = reference(_groups(ref_model, 0.05))
    assert ours.param_groups[0]["fused"] is True
    x = torch.randn(5, 2, 4, 4)
    for _ in range(6):
        for model, opt in ((ours_model, ours), (ref_model, ref)):
            opt.zero_grad(set_to_none=True)
            model(x).square().sum().backward()
            opt.step()
    for p, q in zip(ours_model.parameters(), ref_model.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    # a checkpoint's optimizer state moves between the two (resume across versions)
    ref.load_state_dict(ours.state_dict())
    ours.load_state_dict(ref.state_dict())
    assert ours.state_dict()["state"].keys() == ref.state_dict()["state"].keys()


def test_a_training_run_never_imports_dynamo(tmp_path):
    code = (
        "import sys\n"
        "from cnndsl.cli import main\n"
        f"assert main(['train', {str(TINY)!r}, '--epochs', '1', '--out', {str(tmp_path / 'run')!r}]) == 0\n"
        "print('dynamo' if 'torch._dynamo' in sys.modules else 'no dynamo')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "no dynamo"
    assert (tmp_path / "run" / "curves.png").stat().st_size > 0


@pytest.mark.parametrize("channels_last", [False, True])
def test_pool_preprocessed_once_gives_the_same_batches(channels_last, monkeypatch):
    import cnndsl.train.batches as batches
    data = load_data("digits", (1, 28, 28), 10)
    pre = Preprocess(data.scale, data.mean, data.std, (28, 28), channels_last)
    once = Batches(data.val, torch.device("cpu"), pre)
    assert once.prepared
    monkeypatch.setattr(batches, "PREPARE_LIMIT", 0)
    per_batch = Batches(data.val, torch.device("cpu"), pre)
    assert not per_batch.prepared
    pairs = list(zip(once.validation(), per_batch.validation()))
    assert pairs and sum(len(y) for (_, y), _ in pairs) == len(data.val)
    for (x, y), (x2, y2) in pairs:
        assert x.is_contiguous(memory_format=torch.channels_last if channels_last
                               else torch.contiguous_format)
        torch.testing.assert_close(x, x2, rtol=0, atol=0)
        assert torch.equal(y, y2)
    train_once = list(once.train(64, seed=1, epoch=0, augment=True))
    train_each = list(per_batch.train(64, seed=1, epoch=0, augment=True))
    assert len(train_once) == len(train_each) > 0
    for (x, _), (x2, _) in zip(train_once, train_each):
        torch.testing.assert_close(x, x2, rtol=0, atol=0)


def test_large_pools_are_preprocessed_per_batch(monkeypatch):
    import cnndsl.train.batches as batches
    monkeypatch.setattr(batches, "PREPARE_LIMIT", 1000)
    split = TensorSplit(torch.zeros(8, 1, 8, 8, dtype=torch.uint8), torch.zeros(8, dtype=torch.long))
    b = Batches(split, torch.device("cpu"), Preprocess(1 / 255, [0.0], [1.0], (28, 28)))
    assert not b.prepared and b.images.dtype == torch.uint8
    assert next(iter(b.validation()))[0].shape == (8, 1, 28, 28)


def test_best_is_last_linked_and_survives_the_next_last(tmp_path):
    (tmp_path / "last.pt").write_bytes(b"epoch 1")
    duplicate_atomic(tmp_path / "last.pt", tmp_path / "best.pt")
    assert (tmp_path / "best.pt").read_bytes() == b"epoch 1"
    from cnndsl.files import write_atomic
    write_atomic(tmp_path / "last.pt", b"epoch 2")  # replaced by a rename: best.pt keeps epoch 1
    assert (tmp_path / "best.pt").read_bytes() == b"epoch 1"
    assert not list(tmp_path.glob(".*"))
