"""Output heads in PyTorch: what the module returns in training and eval mode, the
generated source, and the aux twins against torchvision's googlenet / inception_v3
with aux_logits=True (the same weights: the same outputs, head by head)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
models = pytest.importorskip("torchvision.models")

import cnndsl  # noqa: E402
from cnndsl.backends.torch import generate_source, load_weights  # noqa: E402

from conftest import ROOT, SPECS  # noqa: E402
from test_torch_backend import randomize  # noqa: E402

SMALL = ROOT / "tests" / "specs" / "aux_small.cnn"
GOLDEN = ROOT / "tests" / "golden" / "torch_aux_small.py"

# aux twin -> (torchvision builder, our output -> torchvision's named-tuple field)
AUX_TWINS = {
    "googlenet_aux": (lambda: models.googlenet(weights=None, aux_logits=True,
                                               init_weights=True),
                      {"logits": "logits", "aux1": "aux_logits1", "aux2": "aux_logits2"}),
    "inception_v3_aux": (lambda: models.inception_v3(weights=None, aux_logits=True,
                                                     init_weights=False),
                         {"logits": "logits", "aux": "aux_logits"}),
}
INPUT = {"googlenet_aux": 224, "inception_v3_aux": 299}  # the head needs a 17x17 grid


def train_without_noise(module):
    """Training mode as far as the outputs go (every head runs), but batch norm uses
    its running statistics and dropout is off, so two models can be compared."""
    module.train()
    for sub in module.modules():
        if isinstance(sub, (torch.nn.modules.batchnorm._BatchNorm, torch.nn.Dropout)):
            sub.eval()
    return module


@pytest.mark.parametrize("spec", sorted(AUX_TWINS))
def test_aux_twin_matches_torchvision_on_every_head(spec, tmp_path):
    build, fields = AUX_TWINS[spec]
    torch.manual_seed(0)
    theirs = build()
    randomize(theirs, seed=1)  # batch-norm statistics too, so eval-mode BN is not the identity
    ours = cnndsl.load(SPECS / f"{spec}.cnn").to_torch()
    report = load_weights(ours, theirs.state_dict(), strict=True)
    # labelled as torchvision (aux1.conv.conv, AuxLogits.conv0.conv): every key by name
    assert report.pairing == "name" and report.loaded == [(k, k) for k in ours.state_dict()]
    assert sum(p.numel() for p in ours.parameters()) == \
        sum(p.numel() for p in theirs.parameters())
    if spec == "googlenet_aux":  # torchvision registers aux1/aux2 after inception5b
        by_order = load_weights(ours, theirs.state_dict(), strict=True, by_order=True)
        assert {o.split(".")[0] for o, _ in by_order.moved} == {"aux1", "aux2"}
    x = torch.randn(2, 3, INPUT[spec], INPUT[spec], generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        got, want = train_without_noise(ours)(x), train_without_noise(theirs)(x)
        assert list(got._fields) == list(fields)
        for name, field in fields.items():
            a, b = getattr(got, name), getattr(want, field)
            assert a.shape == b.shape == (2, 1000)
            assert b.std() > 1e-3  # not a constant, which any two models would agree on
            assert torch.allclose(a, b, atol=1e-4, rtol=0), (name, (a - b).abs().max())
        main_eval = ours.eval()(x)
        assert isinstance(main_eval, torch.Tensor)  # eval mode: the main output alone
        assert torch.allclose(main_eval, theirs.eval()(x), atol=1e-4, rtol=0)
        assert torch.allclose(main_eval, got.logits, atol=1e-4, rtol=0)
    check_onnx(spec, ours, x, tmp_path)


def check_onnx(spec, module, x, tmp_path):
    """The ONNX graph with the same weights: full checker, one output per spec output,
    named after it, each equal to torch's (at 224x224 GoogLeNet's heads pool 14x14 to
    4x4 with uneven windows: two MatMuls in ONNX)."""
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from cnndsl.backends.onnx import runtime
    net = cnndsl.load(SPECS / f"{spec}.cnn")
    path = tmp_path / f"{spec}.onnx"
    net.to_onnx(path, state_dict=module.state_dict())
    onnx.checker.check_model(str(path), full_check=True)
    session = runtime.session(path, device="cpu")
    names = [o.name for o in session.get_outputs()]
    assert names == list(net.outputs) == list(AUX_TWINS[spec][1])
    module.all_outputs = True
    with torch.no_grad():
        want = module.eval()(x)
    for name, got in zip(names, session.run(names, {"input": x.numpy()})):
        expected = getattr(want, name).numpy()
        assert got.shape == expected.shape and abs(got - expected).max() < 1e-4, name


def test_train_mode_returns_every_output_and_eval_only_the_main_one():
    net = cnndsl.load(SMALL)
    model = net.to_torch()
    x = torch.randn(4, 3, 16, 16)
    out = model.train()(x)
    assert out._fields == ("output", "aux1") and type(out).__name__ == "AuxSmallOutputs"
    assert out.output.shape == out.aux1.shape == (4, 10)
    assert isinstance(model.eval()(x), torch.Tensor)
    model.all_outputs = True
    both = model(x)
    assert both._fields == ("output", "aux1")
    always = net.to_torch(all_outputs=True).eval()
    assert always.all_outputs and always(x)._fields == ("output", "aux1")
    # a network without heads ignores the option
    assert isinstance(cnndsl.load(SPECS / "lenet5.cnn").to_torch(all_outputs=True)
                      .train()(torch.randn(2, 1, 28, 28)), torch.Tensor)


def test_heads_do_not_run_in_eval_mode():
    """As torchvision's GoogLeNet: eval mode computes only the main path."""
    model = cnndsl.load(SMALL).to_torch().eval()
    calls = []
    model.aux1.register_forward_hook(lambda *args: calls.append(1))
    model(torch.randn(1, 3, 16, 16))
    assert calls == []
    model.train()(torch.randn(2, 3, 16, 16))
    assert calls == [1]


def test_generated_source_golden(update_golden):
    relpath = "tests/specs/aux_small.cnn"
    source = generate_source(cnndsl.loads(SMALL.read_text(), path=relpath))
    if update_golden:
        GOLDEN.write_text(source)
    assert source == GOLDEN.read_text(), "run pytest --update-golden after a deliberate change"
    namespace = {}
    exec(compile(source, "generated", "exec"), namespace)  # standalone: runs as written
    out = namespace["AuxSmall"]().train()(torch.randn(2, 3, 16, 16))
    assert out._fields == ("output", "aux1")


def test_time_runs_every_output_in_training_and_the_main_one_in_eval(capsys):
    import json

    from cnndsl.cli import main
    from cnndsl.profile.steps import build_steps, run_steps
    net = cnndsl.load(SMALL)
    module = net.to_torch().eval()
    module.all_outputs = True
    x = torch.randn(2, *net.input_shape)
    with torch.no_grad():  # step by step, every output, as the module computes them
        stepped = run_steps(build_steps(net.graph, module), x, None,
                            [node for _, node in net.graph.outputs])
        assert all(torch.equal(a, b) for a, b in zip(stepped, module(x)))
    quick = ["--batch", "2", "--iterations", "1", "--warmup", "0", "--format", "json"]
    for extra, ran in (([], True), (["--forward-only"], False)):
        assert main(["time", str(SMALL), *quick, *extra]) == 0
        rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["layers"]}
        assert (rows["aux1.fc1"]["forward_ms"] > 0) == ran  # eval mode: heads do not run
        assert (rows["aux1.fc1"]["backward_ms"] > 0) == ran
        assert rows["fc1"]["forward_ms"] > 0


def test_a_head_named_like_a_forward_variable_keeps_its_own():
    """Generated forward names branch values out, out2, ...: a head called out2 gets
    the variable out2_, and every output is still the one the spec means."""
    net = cnndsl.loads("""network n {
  input 3x8x8
  conv(4, 3, pad=1)
  output out2 { avgpool(global); flatten; fc(5) }
  concat { path { conv(2, 1) }; path { conv(2, 3, pad=1) } }
  output x2 { avgpool(global); flatten; fc(5) }
  avgpool(global); flatten; fc(5)
}""")
    source = generate_source(net)
    assert "out2_ = self.out2(x)" in source and "x2_ = self.x2(" in source
    model = net.to_torch().eval()
    model.all_outputs = True
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        out = model(x)
        tap = model.conv1(x)
        assert torch.equal(out.out2, model.out2(tap))
        assert out._fields == ("output", "out2", "x2")
