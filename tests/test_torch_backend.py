"""The PyTorch back end computes what torchvision computes, layer for layer."""

from __future__ import annotations

import math
import re

import pytest

torch = pytest.importorskip("torch")
models = pytest.importorskip("torchvision.models")

import cnndsl  # noqa: E402
from cnndsl.backends.torch import load_weights  # noqa: E402
from cnndsl.backends.torch.weights import WeightMismatchError  # noqa: E402

from conftest import ROOT, SPECS  # noqa: E402

TEST_SPECS = ROOT / "tests" / "specs"

# Zoo specs with a torchvision twin -> builder (random init; no downloads).
TWINS = {
    "alexnet": models.alexnet,
    "vgg16": models.vgg16,
    "vgg16_bn": models.vgg16_bn,
    "vgg19": models.vgg19,
    "googlenet": lambda: models.googlenet(aux_logits=False, init_weights=False),
    "resnet18": models.resnet18,
    "resnet34": models.resnet34,
    "resnet50": models.resnet50,
    "resnet101": models.resnet101,
    "resnet152": models.resnet152,
    "resnext50_32x4d": models.resnext50_32x4d,
    "wide_resnet50_2": models.wide_resnet50_2,
    "densenet121": models.densenet121,
    "mobilenet_v3_small": models.mobilenet_v3_small,
    "mobilenet_v3_large": models.mobilenet_v3_large,
    "shufflenet_v2_x1_0": models.shufflenet_v2_x1_0,
    "efficientnet_b0": models.efficientnet_b0,
    "convnext_tiny": models.convnext_tiny,
    "squeezenet1_1": models.squeezenet1_1,
    "inception_v3": lambda: models.inception_v3(aux_logits=False, init_weights=False),
}
# The smallest input each net takes (keeps CI fast); 32x32 unless listed.
INPUT = {"alexnet": 64, "inception_v3": 75}


def randomize(module, seed: int = 0, variance=(0.5, 1.5), scale=(0.1, 0.5),
              spread: float = 0.1) -> None:
    """Non-trivial random weights and batch-norm statistics, fast (no init schemes):
    He-scaled weights, batch-norm variances and scales drawn from the given ranges
    (small scales, so that deep residual stacks keep outputs near 1), biases, shifts
    and running means from N(0, spread)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            leaf = name.rsplit(".", 1)[-1]
            if leaf == "num_batches_tracked":
                t.zero_()
            elif leaf == "running_var":
                t.uniform_(*variance, generator=g)
            elif leaf == "weight" and t.dim() == 1:  # batch-norm scale
                t.uniform_(*scale, generator=g)
            elif t.dim() >= 2:
                t.normal_(0.0, math.sqrt(2.0 / t[0].numel()), generator=g)
            else:  # biases, running means
                t.normal_(0.0, spread, generator=g)


def stress(module, seed: int = 0) -> None:
    """Weights where activations saturate: He-scaled conv and fc weights, random biases
    of 0.5, normalisation scales in [0.5, 2] with shifts of 0.5, running means of 0.5
    and variances in [0.5, 2] that match no batch.  With the input scaled by 4, many
    pre-activations pass 6 (relu6 clips) and 3 (hardswish is linear, silu is not)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            leaf = name.rsplit(".", 1)[-1]
            if not t.is_floating_point():
                continue
            if leaf == "running_var" or (leaf == "weight" and t.dim() == 1):
                t.uniform_(0.5, 2.0, generator=g)  # variances, norm scales, PReLU slopes
            elif leaf in ("weight",) and t.dim() >= 2:
                t.normal_(0.0, math.sqrt(2.0 / t[0].numel()), generator=g)
            elif leaf in ("bias", "running_mean"):
                t.normal_(0.0, 0.5, generator=g)
            else:  # a module's own tensor: ConvNeXt's layer scale
                t.uniform_(0.5, 1.5, generator=g)


def torchvision_model(name):
    with torch.device("meta"):
        model = TWINS[name]()
    model.to_empty(device="cpu")
    randomize(model)
    return model.eval()


REGIMES = {  # name -> (randomiser, dtype, input scale, tolerance relative to the output scale)
    "small": (randomize, torch.float32, 1.0, None),  # absolute 1e-4, as before
    "stress": (stress, torch.float64, 4.0, 1e-6),
}


def compare(net, reference, regime: str) -> tuple[float, float]:
    """(max abs difference, max abs output) of the compiled `net` against `reference`
    (a torchvision model), with the reference's weights loaded into ours."""
    randomise, dtype, scale, _ = REGIMES[regime]
    randomise(reference)
    reference = reference.to(dtype).eval()
    with torch.device("meta"):  # weights come from torchvision: skip initialising
        module = net.to_torch()
    report = load_weights(module, reference.state_dict(), assign=True, by_order=True)
    assert report.ok and not report.missing, str(report)
    module = module.to(dtype).eval()
    assert sum(p.numel() for p in module.parameters()) == net.report()["total_params"]
    x = torch.randn(2, *net.input_shape, generator=torch.Generator().manual_seed(1),
                    dtype=dtype) * scale
    with torch.no_grad():
        ours, theirs = module(x), reference(x)
    assert ours.shape == theirs.shape
    return (ours - theirs).abs().max().item(), theirs.abs().max().item()


def within(regime: str, diff: float, scale: float) -> bool:
    relative = REGIMES[regime][3]
    return diff <= (1e-4 if relative is None else relative * scale)


def twin_reference(name):
    with torch.device("meta"):
        model = TWINS[name]()
    return model.to_empty(device="cpu")


@pytest.mark.parametrize("regime", sorted(REGIMES))
@pytest.mark.parametrize("name", sorted(TWINS))
def test_zoo_matches_torchvision(name, regime):
    """Exact parameter count and equal outputs with torchvision's weights loaded, with
    small random weights and in the stress regime (float64, saturating activations)."""
    spec = SPECS / f"{name}.cnn"
    size = INPUT.get(name, 32)
    net = cnndsl.load(spec, input=f"3x{size}x{size}")
    diff, scale = compare(net, twin_reference(name), regime)
    print(f"{name} [{regime}]: max abs diff {diff:.3g} (outputs up to {scale:.3g})")
    assert within(regime, diff, scale)


def _mutated(tmp_path, spec: str, old: str, new: str):
    """A copy of the zoo spec and its libraries with every `old` word replaced by `new`."""
    for source in [SPECS / f"{spec}.cnn", *sorted((SPECS / "lib").glob("*.cnn"))]:
        target = tmp_path / source.relative_to(SPECS)
        target.parent.mkdir(exist_ok=True)
        target.write_text(re.sub(rf"\b{old}\b", new, source.read_text()))
    return tmp_path / f"{spec}.cnn"


@pytest.mark.parametrize("spec, old, new, twin", [
    ("mobilenet_v3_small", "hardswish", "silu", models.mobilenet_v3_small),
    ("docs:mobilenet_v2", "relu6", "relu", models.mobilenet_v2),
])
def test_stress_regime_catches_a_swapped_activation(tmp_path, spec, old, new, twin):
    """The test above has teeth: with one activation swapped for a look-alike in a spec,
    the stress comparison fails (the small regime does not notice relu6 for relu: its
    activations stay below 6)."""
    if spec.startswith("docs:"):  # the language doc's MobileNetV2, torchvision's exactly
        original = cnndsl.loads(_docs_mobilenet_v2(), path="docs/language.md", input="3x32x32")
        mutant = cnndsl.loads(re.sub(rf"\b{old}\b", new, _docs_mobilenet_v2()),
                              path="docs/language.md", input="3x32x32")
    else:
        original = cnndsl.load(SPECS / f"{spec}.cnn", input="3x32x32")
        mutant = cnndsl.load(_mutated(tmp_path, spec, old, new), input="3x32x32")
    ops = [n.op for n in mutant.graph.nodes]
    assert old not in ops and new in ops
    with torch.device("meta"):
        reference = twin()
    reference.to_empty(device="cpu")
    assert within("stress", *compare(original, reference, "stress"))
    diff, scale = compare(mutant, reference, "stress")
    print(f"{spec} with {old} -> {new}: stress diff {diff:.3g} (outputs up to {scale:.3g})")
    assert not within("stress", diff, scale)


def _docs_mobilenet_v2() -> str:
    doc = (ROOT / "docs" / "language.md").read_text()
    (snippet,) = [s for s in re.findall(r"```\n(.*?)```", doc, re.S) if "mobilenet_v2(" in s]
    return snippet


@pytest.mark.parametrize("spec", sorted(p.name for p in TEST_SPECS.glob("torch_*.cnn")))
def test_param_count_and_layer_shapes(spec):
    """Every submodule's output has the shape the checker inferred for its node,
    and the module holds exactly the checker's parameter count."""
    net = cnndsl.load(TEST_SPECS / spec)
    module = net.to_torch().eval()
    assert sum(p.numel() for p in module.parameters()) == net.report()["total_params"]
    shapes, seen = {n.name: n.shape for n in net.graph.nodes}, {}
    hooks = [m.register_forward_hook(lambda m, i, o, name=name: seen.__setitem__(name, o.shape))
             for name, m in module.named_modules() if name in shapes]
    with torch.no_grad():
        out = module(torch.randn(2, *net.input_shape))
    for h in hooks:
        h.remove()
    assert tuple(out.shape) == (2, *net.output_shape)
    assert seen and all(tuple(s) == (2, *shapes[name]) for name, s in seen.items())


def test_asymmetric_same_padding_matches_tensorflow_rule():
    net = cnndsl.loads("network n { input 1x6x6\n conv(1, 2, stride=2, pad=same, bias=false) }")
    module = net.to_torch()
    with torch.no_grad():
        module.conv1.weight.fill_(1.0)
        x = torch.arange(36.0).reshape(1, 1, 6, 6)
        out = module(x)
    # TensorFlow 'same': 6 -> 3, total padding 0 -> plain 2x2 sums
    expected = torch.nn.functional.conv2d(x, torch.ones(1, 1, 2, 2), stride=2)
    assert torch.equal(out, expected)
    net = cnndsl.loads("network n { input 1x5x5\n conv(1, 2, pad=same, bias=false) }")
    module = net.to_torch()
    with torch.no_grad():
        module.conv1.weight.fill_(1.0)
        x = torch.arange(25.0).reshape(1, 1, 5, 5)
        padded = torch.nn.functional.pad(x, (0, 1, 0, 1))  # odd extra at bottom/right
        assert torch.equal(module(x), torch.nn.functional.conv2d(padded, torch.ones(1, 1, 2, 2)))


def test_parameters_registered_in_declaration_order():
    net = cnndsl.load(TEST_SPECS / "torch_residual.cnn")
    names = [k.rsplit(".", 1)[0] for k in net.to_torch().state_dict()]
    declared = [n.name for n in net.graph.nodes if n.op in ("conv", "bn", "fc")]
    assert list(dict.fromkeys(names)) == declared


def test_state_dict_keys_follow_ir_names():
    net = cnndsl.load(SPECS / "resnet34.cnn", input="3x32x32")
    keys = net.to_torch().state_dict().keys()
    for node in net.graph.nodes:
        if node.op == "conv":
            assert f"{node.name}.weight" in keys


def test_weight_report_names_what_does_not_match():
    net = cnndsl.load(TEST_SPECS / "torch_residual.cnn")
    theirs = net.to_torch().state_dict()
    key = next(k for k in theirs if k.endswith("conv1.weight"))
    theirs[key] = torch.zeros(3, 3, 3, 3)
    theirs["extra.weight"] = torch.zeros(5)
    module = net.to_torch()
    with pytest.raises(WeightMismatchError) as err:
        load_weights(module, theirs)
    text = str(err.value)
    assert "shape mismatch" in text and key in text and "unexpected (ignored): extra.weight" in text
    report = load_weights(module, theirs, strict=False)
    assert not report.ok and len(report.loaded) == len(theirs) - 2


def test_weight_import_skips_an_extra_layer_without_shifting():
    net = cnndsl.load(TEST_SPECS / "torch_inception.cnn")
    source = net.to_torch().state_dict()
    items = list(source.items())
    items.insert(3, ("aux.conv.weight", torch.zeros(7, 7)))  # e.g. an auxiliary classifier
    report = load_weights(net.to_torch(), dict(items), strict=False)
    assert report.unexpected == ["aux.conv.weight"] and not report.mismatched
    assert len(report.loaded) == len(source)


def test_language_doc_mobilenet_v2_is_torchvisions():
    """The `for` example of docs/language.md, MobileNetV2 written as its paper's
    table 2, is torchvision's mobilenet_v2: same parameters, same outputs."""
    import re
    doc = (ROOT / "docs" / "language.md").read_text()
    (snippet,) = [s for s in re.findall(r"```\n(.*?)```", doc, re.S) if "mobilenet_v2(" in s]
    net = cnndsl.loads(snippet, path="docs/language.md", input="3x32x32")
    with torch.device("meta"):
        module, reference = net.to_torch(), models.mobilenet_v2()
    reference.to_empty(device="cpu")
    randomize(reference)
    report = load_weights(module, reference.state_dict(), assign=True, by_order=True)
    assert report.ok and not report.missing, str(report)
    assert net.report()["total_params"] == 3_504_872 == sum(p.numel() for p in module.parameters())
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert (module.eval()(x) - reference.eval()(x)).abs().max().item() <= 1e-4


def _normalise(x, dims, eps):
    mean = x.mean(dims, keepdim=True)
    var = ((x - mean) ** 2).mean(dims, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps)


def _grouped(x, groups, eps):
    n, c, h, w = x.shape
    return _normalise(x.reshape(n, groups, c // groups, h, w), (2, 3, 4), eps).reshape(x.shape)


def _shuffled(x, groups):
    """ShuffleNet's channel shuffle, as torchvision writes it."""
    from torchvision.models.shufflenetv2 import channel_shuffle
    return channel_shuffle(x, groups)


# (layer, what it must compute on N x 6 x 4 x 4 in float64, from the papers' formulas)
OP_SEMANTICS = [
    ("hardswish", lambda x: x * torch.clamp(x + 3, 0, 6) / 6),
    ("hardsigmoid", lambda x: torch.clamp(x + 3, 0, 6) / 6),
    ("silu", lambda x: x * torch.sigmoid(x)),
    ("swish", lambda x: x * torch.sigmoid(x)),
    ("gelu", lambda x: x * 0.5 * (1 + torch.erf(x / math.sqrt(2)))),
    ('gelu("tanh")', lambda x: 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi)
                                                         * (x + 0.044715 * x ** 3)))),
    ("elu(0.7)", lambda x: torch.where(x > 0, x, 0.7 * (torch.exp(x) - 1))),
    ("mish", lambda x: x * torch.tanh(torch.log1p(torch.exp(x)))),
    ("prelu(init=0.125)", lambda x: torch.where(x > 0, x, 0.125 * x)),  # exact in float32
    ("prelu(shared=true)", lambda x: torch.where(x > 0, x, 0.25 * x)),
    ("layernorm(eps=1e-6)", lambda x: _normalise(x, (1,), 1e-6)),
    ("groupnorm(2)", lambda x: _grouped(x, 2, 1e-5)),
    ("groupnorm(1)", lambda x: _normalise(x, (1, 2, 3), 1e-5)),
    ("instancenorm", lambda x: _normalise(x, (2, 3), 1e-5)),
    ("layer_scale(0.375)", lambda x: 0.375 * x),
    ("scale(-0.5)", lambda x: -0.5 * x),
    ("drop_path(0.5)", lambda x: x),  # the identity at inference
    ("slice(2, 5)", lambda x: x[:, 2:5]),
    ("slice(4)", lambda x: x[:, 4:]),
    ("channel_shuffle(3)", lambda x: _shuffled(x, 3)),
]


@pytest.mark.parametrize("layer, expected", OP_SEMANTICS, ids=[row[0] for row in OP_SEMANTICS])
def test_new_op_computes_its_formula(layer, expected):
    net = cnndsl.loads(f"network one {{\n input 6x4x4\n {layer}\n}}", path="one.cnn")
    module = net.to_torch().double().eval()
    x = torch.randn(3, 6, 4, 4, generator=torch.Generator().manual_seed(0),
                    dtype=torch.float64) * 3
    with torch.no_grad():
        got = module(x)
    assert tuple(got.shape[1:]) == net.output_shape
    assert torch.allclose(got, expected(x), rtol=1e-10, atol=1e-12)
    assert sum(p.numel() for p in module.parameters()) == net.report()["total_params"]


def test_layernorm_on_flat_features_and_prelu_per_channel():
    net = cnndsl.loads("network flat {\n input 6\n layernorm; prelu\n}", path="flat.cnn")
    module = net.to_torch().double().eval()
    assert net.report()["total_params"] == 6 + 6 + 6
    with torch.no_grad():
        module.prelu1.weight.copy_(torch.arange(6.0) / 10)
        x = torch.randn(4, 6, dtype=torch.float64)
        y = _normalise(x, (1,), 1e-5)
        assert torch.allclose(module(x), torch.where(y > 0, y, y * torch.arange(6.0) / 10))


# convnext_tiny as the zoo wrote it before it took torchvision's names: unlabelled, its
# 1x1 convolutions conv(c, 1) with 4-D weights
CONVNEXT_BEFORE_LABELS = """
block convnext_block(c, p_max) {
  add {
    path {
      conv(c, 7, pad=3, groups=c); layernorm(eps=1e-6)
      conv(4 * c, 1); gelu; conv(c, 1)
      layer_scale(1e-6); drop_path(p_max * block.index / (block.count - 1))
    }
    identity
  }
}
network convnext_tiny(classes = 1000, stochastic_depth = 0.1) {
  input 3x32x32
  conv(96, 4, stride=4); layernorm(eps=1e-6)
  for c, n in ((96, 3), (192, 3), (384, 9), (768, 3)) {
    if c != 96 { layernorm(eps=1e-6); conv(c, 2, stride=2) }
    repeat n { convnext_block(c, stochastic_depth) }
  }
  avgpool(global); layernorm(eps=1e-6); flatten; fc(classes)
}
"""


def _layer_scale_modules(state: dict) -> dict:
    """`state` as cnndsl saved it while a layer scale was a LayerScale module: each
    `convnext_block1.layer_scale1` a `.gamma`, after its block's layers (a submodule's
    tensor), not before them (the block's own)."""
    out, held = {}, []
    for key, tensor in state.items():
        while held and not key.startswith(held[0][0].rpartition(".")[0] + "."):
            name, value = held.pop(0)
            out[name + ".gamma"] = value
        if key.rsplit(".", 1)[-1].startswith("layer_scale"):
            held.append((key, tensor))
        else:
            out[key] = tensor
    out.update((name + ".gamma", value) for name, value in held)
    return out


def test_convnext_weights_from_before_labels_say_what_was_reshaped_and_reordered():
    """A checkpoint of convnext_tiny from before its labels holds 1x1 convolutions
    (out x in x 1 x 1) where the labelled spec holds torchvision's nn.Linear weights
    (out x in), and LayerScale modules' gammas after each block's layers where the
    spec's layer scale is the block's own parameter, first: by_order=True pairs
    both and says so, the outputs are the old module's, and a missing layer scale is
    still an error."""
    old = cnndsl.loads(CONVNEXT_BEFORE_LABELS, path="convnext_before_labels.cnn").to_torch()
    randomize(old)
    old = old.eval()
    theirs = _layer_scale_modules(old.state_dict())
    assert list(theirs)[11:13] == ["convnext_block1.conv3.bias",
                                   "convnext_block1.layer_scale1.gamma"]
    net = cnndsl.load(SPECS / "convnext_tiny.cnn", input="3x32x32")
    module = net.to_torch()
    report = load_weights(module, theirs, by_order=True)
    assert report.ok and not report.missing
    assert len(report.reshaped) == 36 and len(report.reordered) == 18
    assert all(len(ours) == 2 and their_shape == (*ours, 1, 1)
               for _, ours, _, their_shape in report.reshaped)
    assert all(o.endswith(".layer_scale") and t.endswith(".gamma") for o, t in report.reordered)
    text = str(report)
    assert "36 reshaped" in text and "18 reordered" in text
    assert ("features.1.0.block.3.weight [384, 96] <- convnext_block1.conv2.weight "
            "[384, 96, 1, 1]") in text
    assert "features.1.0.layer_scale <- convnext_block1.layer_scale1.gamma" in text
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert (module.eval()(x) - old(x)).abs().max().item() <= 1e-4
    del theirs["convnext_block11.layer_scale1.gamma"]
    with pytest.raises(WeightMismatchError, match=r"features\.5\.4\.layer_scale"):
        load_weights(net.to_torch(), theirs, by_order=True)


def test_unlabelled_convnext_takes_torchvision_weights_by_order():
    """The same spec unlabelled, with conv(c, 1) for the MLP, still takes torchvision's
    weights by declaration order: its 36 nn.Linear weights reshaped to 1x1 convolutions."""
    net = cnndsl.loads(CONVNEXT_BEFORE_LABELS, path="convnext_before_labels.cnn")
    reference = torchvision_model("convnext_tiny")
    module = net.to_torch()
    report = load_weights(module, reference.state_dict(), by_order=True)
    assert report.ok and len(report.reshaped) == 36 and not report.reordered
    assert "convnext_block1.layer_scale1" in module.state_dict()  # the block's own parameter
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        assert (module.eval()(x) - reference(x)).abs().max().item() <= 1e-4


def test_torchvision_convnext_weights_export_to_onnx(tmp_path):
    """The ONNX back end takes torchvision's names, Linear weights and layer scales
    as they are: the exported graph computes torchvision's outputs."""
    ort = pytest.importorskip("onnxruntime")
    net = cnndsl.load(SPECS / "convnext_tiny.cnn", input="3x32x32")
    reference = torchvision_model("convnext_tiny")
    net.to_onnx(tmp_path / "convnext.onnx", state_dict=reference.state_dict())
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    session = ort.InferenceSession(str(tmp_path / "convnext.onnx"),
                                   providers=["CPUExecutionProvider"])
    got = session.run(["output"], {"input": x.numpy()})[0]
    with torch.no_grad():
        expected = reference(x).numpy()
    assert abs(got - expected).max() <= 1e-4
