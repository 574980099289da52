"""Network parameters as constructor arguments of the generated class (knobs.py):
`Resnet18(num_classes=10)` is the network built with `classes = 10`, and a parameter
that reaches more than network-level arguments stays a literal."""

import pytest

torch = pytest.importorskip("torch")

import cnndsl  # noqa: E402
from cnndsl.backends.torch import generate_source  # noqa: E402

from conftest import SPECS  # noqa: E402


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


def test_a_parameter_inside_a_block_or_shaping_the_network_stays_literal():
    net = cnndsl.loads("""
block head(k) { flatten; fc(k) }
network n(classes = 10, width = 8, depth = 2) {
  input 3x8x8
  conv(width, 3, pad=1)
  repeat depth { conv(width, 3, pad=1) }
  avgpool(global); head(classes)
}""")
    source = generate_source(net)
    assert "def __init__(self):" in source.split("class N(")[1]  # no knob is exact alone
    assert "nn.Linear(8, 10)" in source


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
