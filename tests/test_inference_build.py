"""The inference build (net.to_torch(inference=True), cnndsl build --inference)
computes what the ordinary module computes in eval mode, for every zoo spec.

Weights and batch-norm statistics are far from their initial values (the ONNX
parity tests' randomisation), inputs are scaled x3 so that saturating
activations (relu6, hardswish, hardsigmoid) clip, and the comparison runs in
float64, where a folding mistake cannot hide in rounding, as well as in
float32 through the public API on unit-scale inputs."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest

import cnndsl

torch = pytest.importorskip("torch")

from conftest import ZOO  # noqa: E402
from test_onnx_parity import randomise, small_network  # noqa: E402

from cnndsl.backends.torch import build_module  # noqa: E402
from cnndsl.backends.torch.inference import build_inference_module  # noqa: E402
from cnndsl.backends.torch.inference import fold_weights, inference_network  # noqa: E402
from cnndsl.ir.inference import inference_graph  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
REMOVED_MODULES = (torch.nn.Dropout, torch.nn.BatchNorm2d, torch.nn.BatchNorm1d)


def trained(net):
    """The ordinary module with randomised weights and statistics, in eval mode."""
    module = net.to_torch()
    generator = torch.Generator().manual_seed(1)
    randomise(net, module, torch.randn(16, *net.input_shape, generator=generator))
    return module.eval()


@pytest.fixture(scope="module", params=ZOO)
def case(request):
    net = small_network(request.param)
    module = trained(net)
    x = 3 * torch.randn(4, *net.input_shape, generator=torch.Generator().manual_seed(2))
    return net, module, x


def test_float64_outputs_equal(case):
    net, module, x = case
    module = copy.deepcopy(module).double()
    rewritten, _ = inference_network(net)
    inference = build_module(rewritten).double().eval()
    inference.load_state_dict(fold_weights(net, module.state_dict()), strict=True)
    with torch.no_grad():
        want, got = module(x.double()), inference(x.double())
    scale = want.abs().max().item()
    assert (got - want).abs().max().item() <= 1e-10 * max(scale, 1e-12), net.name


def test_float32_api_outputs_equal(case):
    """Within 1e-5 of the output's scale, or (for the deepest clipped stacks, where
    float32 rounding alone moves the ordinary module that far) no further from
    the float64 result than the ordinary float32 module is."""
    net, module, x = case
    inference = net.to_torch(inference=True, weights=module.state_dict())
    assert not inference.training
    x = x / 3  # unit inputs
    with torch.no_grad():
        want, got = module(x), inference(x)
        exact = copy.deepcopy(module).double()(x.double())
    scale = want.abs().max().item()
    error = (got - want).abs().max().item()
    noise = (want.double() - exact).abs().max().item()
    ours = (got.double() - exact).abs().max().item()
    assert error <= 1e-5 * max(scale, 1e-12) or ours <= 2 * noise, (net.name, error, noise, ours)


def test_what_the_build_removes(case):
    net, _, _ = case
    inference = net.to_torch(inference=True)
    rewritten, folds = inference_graph(net.graph)
    kept_bns = sum(1 for n in rewritten.nodes if n.op == "bn")
    heads = sum(1 for n in net.graph.nodes if n.op == "bn" and net.graph.head_of(n))
    assert kept_bns == sum(1 for n in net.graph.nodes if n.op == "bn") - len(folds) - heads
    assert not rewritten.heads
    modules = list(inference.modules())
    assert sum(isinstance(m, (torch.nn.BatchNorm2d, torch.nn.BatchNorm1d))
               for m in modules) == kept_bns
    assert not any(isinstance(m, torch.nn.Dropout) for m in modules)
    assert not any(type(m).__name__ == "DropPath" for m in modules)


def test_resnet50_folds_every_batch_norm_and_runs_relu_in_place():
    net = cnndsl.load(ROOT / "specs" / "resnet50.cnn")
    graph, folds = inference_graph(net.graph)
    assert len(folds) == 53 and not any(n.op == "bn" for n in graph.nodes)
    relus = [n for n in graph.nodes if n.op == "relu"]
    # the ReLU after each block's add may overwrite the sum; so may every one after a conv
    assert all(n.attr("inplace") for n in relus)
    inference = net.to_torch(inference=True)
    assert all(m.inplace for m in inference.modules() if isinstance(m, torch.nn.ReLU))


def test_activation_never_overwrites_a_tensor_read_elsewhere():
    net = cnndsl.loads("""
network n {
  input 3x8x8
  conv(4, 3, pad=1) -> a
  add { relu; identity }
  flatten -> f
  relu
  fc(2)
}""")
    graph, _ = inference_graph(net.graph)
    relus = [n for n in graph.nodes if n.op == "relu"]
    # the first reads a conv that the add reads too; the second reads a view (flatten)
    assert [bool(n.attr("inplace")) for n in relus] == [False, False]
    module = net.to_torch()
    x = torch.randn(2, 3, 8, 8)
    # NCHW as the training module: a channels_last conv may round differently on some
    # CPUs, and an overwritten input would differ by far more than rounding
    inference = build_inference_module(net, module.state_dict(), channels_last=False)
    with torch.no_grad():
        assert torch.equal(inference(x), module.eval()(x))


def test_dropout_and_drop_path_at_the_end_are_removed():
    net = cnndsl.load(ROOT / "specs" / "efficientnet_b0.cnn", input="3x32x32")
    graph, _ = inference_graph(net.graph)
    assert not any(n.op in ("dropout", "drop_path") for n in graph.nodes)
    assert graph.nodes[graph.output].op == "fc"


def test_build_inference_writes_readable_source_and_folded_weights(tmp_path):
    net = cnndsl.load(ROOT / "specs" / "resnet18.cnn", input="3x64x64")
    module = trained(net)
    weights = tmp_path / "trained.pt"
    torch.save(module.state_dict(), weights)
    out = tmp_path / "resnet18_inference.py"
    done = subprocess.run([sys.executable, "-m", "cnndsl", "build", "specs/resnet18.cnn",
                           "--input", "3x64x64", "--target", "torch", "--inference",
                           "--weights", str(weights), "-o", str(out)],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert "BatchNorm" not in text and "nn.ReLU(inplace=True)" in text
    assert "tensor(" not in text  # no weights as literals
    script = f"""
import sys, torch
sys.path.insert(0, {str(tmp_path)!r})
import resnet18_inference as m
net = [v for v in vars(m).values() if isinstance(v, type) and issubclass(v, torch.nn.Module)
       and v.__module__ == m.__name__][-1]()
net.load_state_dict(torch.load({str(out.with_suffix('.pt'))!r}, weights_only=True))
torch.save(net.eval()(torch.load({str(tmp_path / 'x.pt')!r})), {str(tmp_path / 'y.pt')!r})
"""
    x = torch.randn(2, 3, 64, 64)
    torch.save(x, tmp_path / "x.pt")
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
    with torch.no_grad():
        want = module(x)
    got = torch.load(tmp_path / "y.pt")
    assert (got - want).abs().max().item() <= 1e-5 * want.abs().max().item()
