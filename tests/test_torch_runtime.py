"""Compiled modules work with torch.compile, channels_last, autocast and jit.trace."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import cnndsl  # noqa: E402

from conftest import ROOT  # noqa: E402

SPECS = ["torch_residual", "torch_inception", "torch_layers",
         "onnx_modern", "torch_stochastic_depth"]  # every op of the newer families


def _module(name):
    net = cnndsl.load(ROOT / "tests" / "specs" / f"{name}.cnn")
    torch.manual_seed(0)
    return net.to_torch().eval(), torch.randn(2, *net.input_shape)


@pytest.mark.parametrize("name", SPECS)
def test_torch_compile_has_no_graph_breaks(name):
    import torch._dynamo
    module, x = _module(name)
    torch._dynamo.reset()
    explanation = torch._dynamo.explain(module)(x)
    assert explanation.graph_break_count == 0 and explanation.graph_count == 1
    compiled = torch.compile(module, backend="eager", fullgraph=True)
    with torch.no_grad():
        assert torch.allclose(compiled(x), module(x), atol=1e-6)


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::torch.jit.TracerWarning")
@pytest.mark.parametrize("name", SPECS)
def test_channels_last_autocast_and_trace(name):
    module, x = _module(name)
    with torch.no_grad():
        expected = module(x)
        module_cl = module.to(memory_format=torch.channels_last)
        out = module_cl(x.to(memory_format=torch.channels_last))
        assert torch.allclose(out, expected, atol=1e-5)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = module(x)
        assert low.dtype in (torch.bfloat16, torch.float32)
        assert torch.allclose(low.float(), expected, atol=0.1, rtol=0.1)
        traced = torch.jit.trace(module, x)
        assert torch.allclose(traced(x), expected, atol=1e-6)


def test_training_step_runs():
    module, x = _module("torch_residual")
    module.train()
    loss = module(x).logsumexp(1).mean()
    loss.backward()
    assert all(p.grad is not None for p in module.parameters())


def test_module_pickles_within_the_process():
    """torch.save(model), copy.deepcopy and DataLoader-style pickling need the
    generated classes to be importable by name."""
    import copy
    import io
    net = cnndsl.load(ROOT / "tests" / "specs" / "torch_residual.cnn")
    model = net.to_torch().eval()
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False).eval()
    x = torch.randn(2, *net.input_shape)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x)) and torch.equal(model(x), copy.deepcopy(model)(x))
    assert type(net.to_torch()) is type(model)  # the same source is executed once
