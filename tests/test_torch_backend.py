"""The PyTorch back end computes what torchvision computes, layer for layer."""

from __future__ import annotations

import math

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
}
# The smallest input each net takes (keeps CI fast); 32x32 unless listed.
INPUT = {"alexnet": 64}


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


def torchvision_model(name):
    with torch.device("meta"):
        model = TWINS[name]()
    model.to_empty(device="cpu")
    randomize(model)
    return model.eval()


@pytest.mark.parametrize("name", sorted(TWINS))
def test_zoo_matches_torchvision(name):
    spec = SPECS / f"{name}.cnn"
    if not spec.exists():
        pytest.skip(f"{spec.name} is not in the zoo yet")
    size = INPUT.get(name, 32)
    net = cnndsl.load(spec, input=f"3x{size}x{size}")
    with torch.device("meta"):  # weights come from torchvision: skip initialising
        module = net.to_torch()
    reference = torchvision_model(name)
    report = load_weights(module, reference.state_dict(), assign=True)
    assert report.ok and not report.missing, str(report)
    module.eval()
    assert sum(p.numel() for p in module.parameters()) == net.report()["total_params"]
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours, theirs = module(x), reference(x)
    assert ours.shape == theirs.shape
    diff = (ours - theirs).abs().max().item()
    print(f"{name}: max abs diff {diff:.3g} (outputs up to {theirs.abs().max().item():.3g})")
    assert diff <= 1e-4


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
    report = load_weights(module, reference.state_dict(), assign=True)
    assert report.ok and not report.missing, str(report)
    assert net.report()["total_params"] == 3_504_872 == sum(p.numel() for p in module.parameters())
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert (module.eval()(x) - reference.eval()(x)).abs().max().item() <= 1e-4
