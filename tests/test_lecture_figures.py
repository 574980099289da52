"""The lecture figures, each as a spec with the numbers the slide gives.

Each case: (id citing the figure, spec text, expected facts).  Facts are checked
against `cnndsl.loads(...)`: output shape, total params, conv+fc MACs, the
receptive field at the output, and warnings.
"""

from pathlib import Path

import pytest

import cnndsl

SPECS = Path(__file__).resolve().parent.parent / "specs"

INCEPTION_NAIVE = """
network inception_naive {
  input 256x28x28
  concat {
    path { conv(128, 1) }
    path { conv(192, 3, pad=1) }
    path { conv(96, 5, pad=2) }
    maxpool(3, stride=1, pad=1)
  }
}
"""

INCEPTION_BOTTLENECK = """
network inception_bottleneck {
  input 256x28x28
  concat {
    path { conv(128, 1) }
    path { conv(64, 1); conv(192, 3, pad=1) }
    path { conv(64, 1); conv(96, 5, pad=2) }
    path { maxpool(3, stride=1, pad=1); conv(64, 1) }
  }
}
"""


def stacked(n, c, k):
    convs = "\n".join(f"  conv({c}, {k}, pad={k // 2}, bias=false)" for _ in range(n))
    return f"network stack {{\n  input {c}x56x56\n{convs}\n}}\n"


def single(shape, layer):
    return f"network figure {{\n  input {shape}\n  {layer}\n}}\n"


FIGURES = [
    # AlexNet (Krizhevsky et al. 2012), first layer: 96 11x11 filters, stride 4, on 227x227x3
    ("alexnet-conv1-55x55x96-34944-params", single("3x227x227", "conv(96, 11, stride=4)"),
     dict(output=(96, 55, 55), params=34_944)),
    # GoogLeNet lecture slide: naive inception module at 28x28x256
    ("inception-naive-854M-macs-672-channels", INCEPTION_NAIVE,
     dict(output=(672, 28, 28), macs=854_196_224)),
    # ... and with the 1x1 bottlenecks the slide lists
    ("inception-bottleneck-271M-macs-480-channels", INCEPTION_BOTTLENECK,
     dict(output=(480, 28, 28), macs=271_351_808)),
    # VGG (Simonyan & Zisserman 2015): three stacked 3x3 convs see 7x7 with 27C^2 weights
    ("vgg-three-3x3-receptive-field-7-27C2", stacked(3, 64, 3),
     dict(receptive_field=(7, 7), params=27 * 64 * 64)),
    ("vgg-one-7x7-receptive-field-7-49C2", stacked(1, 64, 7),
     dict(receptive_field=(7, 7), params=49 * 64 * 64)),
    # Spatial arithmetic slides: 7x7 input, 3x3 filter
    ("7x7-3x3-stride1-gives-5x5", single("1x7x7", "conv(1, 3)"), dict(output=(1, 5, 5))),
    ("7x7-3x3-stride2-gives-3x3", single("1x7x7", "conv(1, 3, stride=2)"),
     dict(output=(1, 3, 3))),
    ("7x7-3x3-stride3-does-not-fit", single("1x7x7", "conv(1, 3, stride=3)"),
     dict(output=(1, 2, 2), warning="stride 3 does not fit the 7x7 input")),
    # Pooling slide: 2x2 max pool at stride 1 on 4x4
    ("maxpool-2x2-stride1-on-4x4-gives-3x3", single("1x4x4", "maxpool(2, stride=1)"),
     dict(output=(1, 3, 3))),
    # The X/O toy network: 9x9 -> conv 3x3 -> 7x7 -> max pool 2 stride 2 (ceil) -> 4x4
    ("xo-toy-9x9-conv3-7x7-pool-4x4",
     "network xo {\n  input 1x9x9\n  conv(3, 3); relu\n"
     "  maxpool(2, stride=2, ceil=true)\n}\n",
     dict(output=(3, 4, 4), shapes={"conv1": (3, 7, 7)})),
]


@pytest.mark.parametrize("text,facts", [f[1:] for f in FIGURES], ids=[f[0] for f in FIGURES])
def test_lecture_figure(text, facts):
    net = cnndsl.loads(text)
    analysis = net.analysis
    if "output" in facts:
        assert net.output_shape == facts["output"]
    if "params" in facts:
        assert analysis.total_params == facts["params"]
    if "macs" in facts:
        assert analysis.total_macs == facts["macs"]
    if "receptive_field" in facts:
        assert analysis.output_field.size == facts["receptive_field"]
    for name, shape in facts.get("shapes", {}).items():
        assert next(n for n in net.graph.nodes if n.name == name).shape == shape
    warnings = [w.message for w in net.warnings]
    if "warning" in facts:
        assert any(facts["warning"] in w for w in warnings), warnings
    else:
        assert warnings == []


# LeNet-5 as the lecture's table draws it (specs/lenet5.cnn): name -> output shape
LENET5_TABLE = [
    ("conv", (20, 28, 28)), ("maxpool", (20, 14, 14)), ("conv", (50, 14, 14)),
    ("maxpool", (50, 7, 7)), ("flatten", (2450,)), ("fc", (500,)), ("fc", (10,)),
]
LENET5_WEIGHTS = [20 * 1 * 5 * 5, 50 * 20 * 5 * 5, 2450 * 500, 500 * 10]


def test_lenet5_lecture_table():
    net = cnndsl.load(SPECS / "lenet5.cnn")
    assert net.input_shape == (1, 28, 28)
    shaped = [(n.op, n.shape) for n in net.graph.layers() if n.op in
              {"conv", "maxpool", "flatten", "fc"}]
    assert shaped == LENET5_TABLE
    weighted = [s for s in net.analysis.layers if s.cost.params]
    biases = [s.node.shape[0] for s in weighted]
    assert [s.cost.params - b for s, b in zip(weighted, biases)] == LENET5_WEIGHTS
    assert net.analysis.total_params == 1_256_080
