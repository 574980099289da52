"""Parity: the PyTorch module (network.to_torch()) with non-trivial weights and
batch-norm statistics, exported with to_onnx(state_dict=...), computes the same
outputs in ONNX Runtime (CPU), folded and unfolded, from one file at batch 1
and batch 8.  Inputs are small (64x64, or 32x32) where the network allows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import cnndsl

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from cnndsl.backends.onnx import runtime  # noqa: E402
from conftest import ZOO  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TEST_SPECS = sorted(p.stem for p in (ROOT / "tests" / "specs").glob("onnx_*.cnn"))
TOLERANCE = 1e-4


def small_network(name: str):
    """The spec at 64x64 (else 32x32, else 75x75, the Inception family's smallest, else
    its own input) — the first size it accepts whose adaptive pools ONNX can express."""
    path = ROOT / ("tests/specs" if name.startswith("onnx_") else "specs") / f"{name}.cnn"
    if not path.exists():
        pytest.fail(f"zoo spec {path.relative_to(ROOT)} does not exist")
    net = cnndsl.load(path)
    c, *hw = net.input_shape
    for side in (64, 32, 75):
        if not hw or hw[0] <= side:
            break
        try:
            small = cnndsl.load(path, input=f"{c}x{side}x{side}")
        except cnndsl.SpecError:
            continue
        if all(_expressible(small, n) for n in small.graph.nodes if n.op.startswith("adaptive")):
            return small
    return net


def _expressible(net, node) -> bool:
    (h, w), (oh, ow) = net.graph.nodes[node.inputs[0]].shape[1:], node.attrs["size"]
    return (h % oh == 0 and w % ow == 0) or (oh % h == 0 and ow % w == 0)


def randomise(net, module, sample) -> None:
    """He-normal conv/fc weights, random biases and BN affine parameters, and
    running statistics measured on a random batch (so activations stay O(1)
    through 150 layers and the statistics are far from 0 and 1).

    A random deep network with batch norm is chaotic (Yang et al., "A Mean
    Field Theory of Batch Normalization", 2019): float32 rounding alone then
    moves ResNet-152's outputs by 1e-3.  As in trained ResNets (and Goyal et
    al.'s zero-gamma init), the batch norm that ends a residual branch gets a
    small gamma (x0.05), which keeps ResNet-152's float32 outputs within
    2e-5 of float64 (with x0.1, 7e-5: too close to the 1e-4 limit).  Batch-norm
    shifts are positive, in [0.2, 0.6], so most ReLUs pass their input: the deep
    plain stacks of Inception-v3 and v4 are chaotic otherwise (shifts in [-0.1,
    0.1] move Inception-v4's float32 outputs by 3.5e-3 from float64, and v3's by
    1.9e-4; in [0.2, 0.6], 3.4e-5 and 2.1e-5)."""
    generator = torch.Generator().manual_seed(0)
    users = net.graph.users()
    branch_ends = {n.name for n in net.graph.nodes if n.op == "bn"
                   and any(net.graph.nodes[u].op == "add" for u in users[n.id])}
    state = module.state_dict()
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=generator)
                               * (2 / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.copy_(torch.rand(m.bias.shape, generator=generator) * 0.2 - 0.1)
            elif isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                if m.affine:
                    m.weight.copy_(torch.rand(m.weight.shape, generator=generator) * 0.4 + 0.2)
                    m.bias.copy_(torch.rand(m.bias.shape, generator=generator) * 0.4 + 0.2)
                m.momentum = None  # cumulative average: the stats of exactly this batch
            elif isinstance(m, (torch.nn.LayerNorm, torch.nn.GroupNorm, torch.nn.InstanceNorm2d,
                                torch.nn.PReLU)):
                for name, param in m.named_parameters(recurse=False):  # scales and shifts
                    low, high = (-0.2, 0.2) if name == "bias" else (0.2, 1.2)
                    param.copy_(torch.rand(param.shape, generator=generator) * (high - low)
                                + low)
        layer_scales = [n.name for n in net.graph.nodes if n.op == "layer_scale"]
        for name in layer_scales:  # a block's own parameter (torchvision's layer_scale)
            scale = module.get_parameter(name)
            scale.copy_(torch.rand(scale.shape, generator=generator) + 0.2)
        for name in branch_ends:
            if f"{name}.weight" in state:
                state[f"{name}.weight"].mul_(0.05)
        module.train()
        module(sample)
        module.eval()


@pytest.fixture(scope="module", params=ZOO + TEST_SPECS)
def reference(request):
    """(network, state dict, batch-8 input, torch's eval output) for one spec."""
    torch.manual_seed(0)
    net = small_network(request.param)
    module = net.to_torch(all_outputs=True)  # every output, as the ONNX graph has them
    generator = torch.Generator().manual_seed(1)
    randomise(net, module, torch.randn(16, *net.input_shape, generator=generator))
    x = torch.randn(8, *net.input_shape, generator=generator)
    with torch.no_grad():
        expected = by_name(net, module(x))
    return net, module.state_dict(), x.numpy(), expected


def by_name(net, result) -> dict[str, np.ndarray]:
    """The module's outputs by spec output name (a named tuple with output heads)."""
    values = result if isinstance(result, tuple) else (result,)
    return {name: v.numpy() for name, v in zip(net.outputs, values)}


@pytest.mark.parametrize("fold_bn", [True, False], ids=["folded", "unfolded"])
def test_onnxruntime_matches_torch(reference, fold_bn, tmp_path):
    net, state_dict, x, expected = reference
    path = tmp_path / f"{net.name}.onnx"
    net.to_onnx(path, state_dict=state_dict, fold_bn=fold_bn)
    session = runtime.session(path, device="cpu")
    assert [i.shape[0] for i in session.get_inputs()] == ["batch"]
    names = [o.name for o in session.get_outputs()]
    assert names == list(expected)  # every output, the heads' too, named as in the spec
    diff = 0.0
    for batch8, batch1, (name, want) in zip(session.run(names, {"input": x}),
                                            session.run(names, {"input": x[:1]}),
                                            expected.items()):
        shape = net.outputs[name]
        assert batch8.shape == (8, *shape) and batch1.shape == (1, *shape)
        diff = max(diff, np.abs(batch8 - want).max(), np.abs(batch1 - want[:1]).max())
    print(f"{net.name} {'x'.join(map(str, net.input_shape))} fold_bn={fold_bn}: "
          f"max abs diff {diff:.3g} over {len(names)} output(s) "
          f"(up to {max(np.abs(v).max() for v in expected.values()):.3g})")
    assert diff <= TOLERANCE


@pytest.mark.parametrize("opset", [13, 14, 17, 18, 20, 21])
def test_newer_ops_at_every_opset(opset, tmp_path):
    """HardSwish (opset 14), LayerNormalization (17), Mish (18) and Gelu (20) where the
    opset has them, their formulas before: the same outputs either way."""
    torch.manual_seed(0)
    net = small_network("onnx_modern")
    module = net.to_torch()
    generator = torch.Generator().manual_seed(1)
    randomise(net, module, torch.randn(16, *net.input_shape, generator=generator))
    x = torch.randn(8, *net.input_shape, generator=generator) * 3
    with torch.no_grad():
        expected = module(x).numpy()
    for fold_bn in (True, False):
        path = tmp_path / f"modern_{fold_bn}.onnx"
        net.to_onnx(path, state_dict=module.state_dict(), fold_bn=fold_bn, opset=opset)
        got = runtime.session(path, device="cpu").run(["output"], {"input": x.numpy()})[0]
        assert np.abs(got - expected).max() <= TOLERANCE
