"""Network parameters as constructor arguments of the generated class (knobs.py):
`Resnet18(num_classes=10)` is the network built with `classes = 10`, also where the
parameter reaches a layer inside a block or a labelled group (`VggHead(classes=
num_classes)`), and a parameter that shapes the network otherwise (a count of layers,
a computed value) stays a literal."""

import inspect

import pytest

torch = pytest.importorskip("torch")

import cnndsl  # noqa: E402
from cnndsl.backends.torch import generate_source  # noqa: E402

from conftest import SPECS, ZOO  # noqa: E402


def namespace(net):
    scope = {}
    exec(compile(generate_source(net), "<generated>", "exec"), scope)
    return scope


@pytest.mark.parametrize("spec, cls", [("resnet18", "Resnet18"), ("resnet50", "Resnet50"),
                                       ("googlenet", "Googlenet"), ("lenet5", "Lenet5")])
def test_classes_is_a_constructor_argument(spec, cls):
    net = cnndsl.load(SPECS / f"{spec}.cnn", input="3x64x64" if spec != "lenet5" else None)
    default = dict(net.graph.params)["classes"]
    source = generate_source(net)
    assert f"def __init__(self, num_classes={default}):" in source  # torchvision's name
    built = namespace(net)[cls](num_classes=7)
    rebuilt = cnndsl.load(SPECS / f"{spec}.cnn", input="3x64x64" if spec != "lenet5" else None,
                          params={"classes": 7}).to_torch()
    assert {k: v.shape for k, v in built.state_dict().items()} == \
        {k: v.shape for k, v in rebuilt.state_dict().items()}
    x = torch.randn(2, *net.input_shape)
    assert built.eval()(x).shape == (2, 7)


def shapes(module):
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


CLASSIFIERS = [spec for spec in ZOO if "classes = " in (SPECS / f"{spec}.cnn").read_text()]


@pytest.mark.parametrize("spec", CLASSIFIERS)
def test_every_zoo_classifier_takes_num_classes_and_builds_what_the_spec_builds(spec):
    """Wherever the spec's classes reaches (a head block, an auxiliary classifier, a
    labelled group), the generated class built with num_classes=7 has the parameters
    the spec elaborated with classes = 7 has; so for every other constructor argument
    (a width), changed by two (on the meta device: shapes only)."""
    net = cnndsl.load(SPECS / f"{spec}.cnn")
    cls = namespace(net)[generate_source(net).split("\n\nclass ")[-1].split("(")[0]]
    knobs = {name: p.default for name, p in inspect.signature(cls).parameters.items()
             if name != "all_outputs"}
    assert "num_classes" in knobs
    spec_names = {"num_classes": "classes"}
    for name, default in knobs.items():
        value = 7 if name == "num_classes" else default + 2
        with torch.device("meta"):
            built = cls(**{name: value})
            rebuilt = cnndsl.load(SPECS / f"{spec}.cnn",
                                  params={spec_names.get(name, name): value}).to_torch()
        assert shapes(built) == shapes(rebuilt), name
        assert value in {shape[0] for shape in shapes(built).values() if shape}


PASSED_DOWN = """
block head(k) { fc(32); relu; fc(k) }
network n(classes = 10, width = 8, depth = 2) {
  input 3x8x8
  conv(width, 3, pad=1)
  repeat depth { conv(width, 3, pad=1) }
  conv(width * 2, 1)
  avgpool(global); flatten; head(10); head(classes)
}"""


def test_a_parameter_inside_a_block_is_passed_down_and_one_shaping_the_network_stays_literal():
    net = cnndsl.loads(PASSED_DOWN)
    source = generate_source(net)
    # width reaches a computed value (width * 2) and depth counts layers: exact only as
    # the spec's literals; head(10) and head(classes) are one class, whose k the
    # second call passes as num_classes
    assert "def __init__(self, num_classes=10):" in source.split("class N(")[1]
    assert "Head(16, k=10)" in source and "Head(10, k=num_classes)" in source
    assert "nn.Conv2d(8, 16" in source
    built = namespace(net)["N"](num_classes=3)
    assert shapes(built) == shapes(cnndsl.loads(PASSED_DOWN, params={"classes": 3}).to_torch())
    assert built(torch.randn(1, 3, 8, 8)).shape == (1, 3)


def test_a_parameter_used_twice_at_network_level_is_one_argument():
    net = cnndsl.loads("""
network n(width = 8) {
  input 3x8x8
  conv(width, 3, pad=1); conv(width, 3, pad=1); avgpool(global); flatten; fc(2)
}""")
    source = generate_source(net)
    assert "def __init__(self, width=8):" in source
    assert source.count("nn.Conv2d(width, width") == 1 and "nn.Conv2d(3, width" in source
    assert namespace(net)["N"](width=5)(torch.randn(1, 3, 8, 8)).shape == (1, 2)


def test_classes_keeps_its_name_where_the_spec_already_has_a_num_classes():
    net = cnndsl.loads("""
network n(classes = 3, num_classes = 4) {
  input 3x8x8
  conv(num_classes, 3, pad=1); avgpool(global); flatten; fc(classes)
}""")
    source = generate_source(net)
    assert "def __init__(self, classes=3, num_classes=4):" in source
    assert namespace(net)["N"](classes=5, num_classes=2)(torch.randn(1, 3, 8, 8)).shape == (1, 5)
