"""Each language construct, checked through the shapes and counts it produces."""

from fractions import Fraction
from pathlib import Path

import pytest

import cnndsl

SPECS = Path(__file__).resolve().parent / "specs"


def net(body: str, input: str = "3x32x32", blocks: str = ""):
    return cnndsl.loads(f"{blocks}\nnetwork t {{\n  input {input}\n{body}\n}}\n")


def shapes(n):
    return {node.name: node.shape for node in n.graph.nodes}


def test_statements_split_on_newlines_and_semicolons_and_args_span_lines():
    n = net("conv(8, 3,\n       pad=1); relu\n  bn")
    assert [node.op for node in n.graph.layers()] == ["conv", "relu", "bn"]


@pytest.mark.parametrize("layer,expected", [
    ("conv(8, 3)", (8, 30, 30)),
    ("conv(8, 3, pad=1)", (8, 32, 32)),
    ("conv(8, 3, pad=same)", (8, 32, 32)),
    ("conv(8, 4, stride=2, pad=same)", (8, 16, 16)),  # asymmetric 'same' padding
    ("conv(8, 3, dilation=2)", (8, 28, 28)),
    ("conv(8, 1x7, pad=0x3)", (8, 32, 32)),
    ("conv(8, (7, 1), pad=(3, 0))", (8, 32, 32)),
    ("conv(8, 3, pad=(0, 0, 1, 1))", (8, 31, 31)),
    ("conv(8, 3, pad=valid)", (8, 30, 30)),
    ("maxpool(3, stride=2)", (3, 15, 15)),
    ("maxpool(2, stride=2, ceil=true)", (3, 16, 16)),
    ("avgpool(3, stride=2, pad=1)", (3, 16, 16)),
    ("avgpool(global)", (3, 1, 1)),
    ("maxpool(global)", (3, 1, 1)),
    ("adaptive_avgpool(6)", (3, 6, 6)),
    ("adaptive_avgpool(2x4)", (3, 2, 4)),
    ("lrn(5, alpha=1e-4, beta=0.75, k=2)", (3, 32, 32)),
    ("leaky_relu(0.2)", (3, 32, 32)),
    ("dropout(0.5)", (3, 32, 32)),
    ("flatten", (3072,)),
])
def test_layer_output_shapes(layer, expected):
    assert net(layer).output_shape == expected


def test_ceil_mode_never_starts_a_window_in_the_padding():
    # PyTorch's rule: 5x5, kernel 2, stride 2, pad 1, ceil -> 3, not 4
    assert net("maxpool(2, stride=2, pad=1, ceil=true)", input="1x5x5").output_shape == (1, 3, 3)


def test_groups_and_bias_in_parameter_count():
    n = net("conv(64, 3, pad=1, groups=4, bias=false)", input="32x8x8")
    assert n.analysis.total_params == 64 * (32 // 4) * 9


def test_block_defaults_keywords_and_arithmetic():
    blocks = "block b(c, expansion = 4, mid = c // expansion) { conv(mid, 1); conv(c, 1) }"
    n = net("b(64)\n  b(c=32, expansion=2)", blocks=blocks, input="16x8x8")
    assert [node.shape[0] for node in n.graph.layers()] == [16, 64, 16, 32]


def test_defaults_can_read_the_input_shape():
    blocks = "block same_width(w = in.channels) { conv(w, 3, pad=1) }"
    assert net("same_width", blocks=blocks, input="24x8x8").output_shape == (24, 8, 8)


def test_repeat_with_index_and_let():
    n = net("repeat 3 as i {\n let c = 16 * 2 ** i\n conv(c, 3, stride=2, pad=1)\n }")
    assert [node.shape for node in n.graph.layers()] == [(16, 16, 16), (32, 8, 8), (64, 4, 4)]


def test_if_else_if_chain():
    blocks = ("block pick(n) {\n if n == 1 { relu } else if n == 2 { sigmoid }\n"
              " else { tanh }\n}")
    n = net("pick(1); pick(2); pick(3)", blocks=blocks)
    assert [node.op for node in n.graph.layers()] == ["relu", "sigmoid", "tanh"]


def test_residual_with_projection_only_where_needed():
    blocks = """
block basic(c, stride = 1) {
  add {
    path { conv(c, 3, stride=stride, pad=1, bias=false); bn; relu
           conv(c, 3, pad=1, bias=false); bn }
    path if stride != 1 or in.channels != c { conv(c, 1, stride=stride, bias=false); bn }
    else identity
  }
  relu
}"""
    n = net("basic(16); basic(32, stride=2)", blocks=blocks, input="16x8x8")
    ops = [node.op for node in n.graph.layers()]
    assert ops.count("conv") == 5  # 2 + 2 + one projection
    first_add = next(node for node in n.graph.nodes if node.name == "basic1.add1")
    assert n.graph.nodes[first_add.inputs[1]].op == "input"  # identity shortcut
    assert n.output_shape == (32, 4, 4)


def test_named_values_give_long_skips():
    # a U-Net step: encode, downsample, decode, upsample, concatenate the long skip
    n = net("conv(8, 3, pad=1) -> skip\n  maxpool(2); conv(8, 3, pad=1)\n"
            "  upsample(2)\n  concat { identity; skip }")
    assert n.output_shape == (16, 32, 32)
    concat = n.graph.output_node
    assert [n.graph.nodes[i].op for i in concat.inputs] == ["upsample", "conv"]


def test_path_from_a_named_value():
    n = net("conv(8, 1) -> a\n  conv(4, 1)\n  concat { identity; path from a { conv(2, 1) } }")
    assert n.output_shape == (6, 32, 32)


def test_dense_connectivity_grows_channels():
    blocks = "block dense(k) { concat { identity; path { bn; relu; conv(k, 3, pad=1) } } }"
    n = net("repeat 4 { dense(12) }", blocks=blocks, input="24x8x8")
    assert n.output_shape == (24 + 4 * 12, 8, 8)


def test_conditional_branch_switched_off_leaves_the_other():
    blocks = "block maybe(on) { concat { path if on { conv(4, 1) }; identity } }"
    assert net("maybe(false)", blocks=blocks).output_shape == (3, 32, 32)
    assert net("maybe(true)", blocks=blocks).output_shape == (7, 32, 32)


def test_imports_are_relative_to_the_importing_file():
    n = cnndsl.load(SPECS / "lang_import.cnn")
    assert n.output_shape == (32, 16, 16)
    assert [node.name for node in n.graph.layers()][:3] == [
        "conv_bn1.conv1", "conv_bn1.bn1", "conv_bn1.relu1"]


def test_hierarchical_names_and_scopes():
    blocks = "block inner(c) { conv(c, 1) }\nblock outer(c) { inner(c); inner(c) }"
    n = net("outer(4); outer(8)", blocks=blocks)
    names = [node.name for node in n.graph.layers()]
    assert names == ["outer1.inner1.conv1", "outer1.inner2.conv1",
                     "outer2.inner1.conv1", "outer2.inner2.conv1"]
    last = n.graph.nodes[-1]
    assert [f.block for f in last.scope] == ["outer", "inner"]
    assert last.scope[0].args == (("c", 8),)


def test_input_override_and_network_parameters():
    text = "network t(classes = 1000) {\n input 3x224x224\n avgpool(global); flatten; fc(classes)\n}"
    n = cnndsl.loads(text, input="3x32x32", params={"classes": 10})
    assert n.input_shape == (3, 32, 32) and n.output_shape == (10,)


def test_comments_and_blank_lines_are_ignored():
    n = net("# a comment\n\n  conv(4, 1)  # trailing comment\n\n  ;;relu")
    assert [node.op for node in n.graph.layers()] == ["conv", "relu"]


def test_bn_on_flat_vectors_and_fc_inference():
    n = net("flatten; fc(64); bn; relu; fc(10)", input="4x2x2")
    assert n.analysis.total_params == (16 * 64 + 64) + 2 * 64 + (64 * 10 + 10)


@pytest.mark.parametrize("source,value", [
    ("-2 ** 2", -4), ("2 ** 3 ** 2", 512), ("2 ** -1", 0.5), ("1 + 2 * 3", 7),
    ("(1 + 2) * 3", 9), ("10 - 4 - 3", 3), ("7 // 2 * 2", 6), ("100 / 4 / 5", 5),
    ("64 / 3 * 3", 64.0), ("not 1 == 2", True), ("not true or true", True),
    ("1 < 2 and 3 < 2 or true", True), ("1 == 1 and not 2 == 3", True), ("-(3)", -3),
    ("+4", 4), ("max(3, 8, 5) - min(2, 1)", 7), ("ceil(7 / 2) + floor(7 / 2)", 7),
    ("1 if 2 > 1 else 0", 1), ("1 if false else 2 if false else 3", 3),
    ("1 + 1 if true else 0", 2), ("(1 if true else 0) + 1", 2),
])
def test_expression_precedence_follows_python(source, value):
    from cnndsl.elaborate.expressions import Evaluator
    from cnndsl.syntax import parse_text
    module = parse_text(f"block b(x = {source}) {{ relu }}", "expr.cnn")
    assert Evaluator({}, None)(module.blocks[0].params[0].default) == value


def test_conditional_expression_evaluates_only_the_chosen_side():
    blocks = "block s(n, c, stride = 1) { repeat n as i { conv(c, 3, stride=stride if i == 0 " \
             "else 1, pad=1) } }"
    n = net("s(1, 4, stride=2); s(2, 8, stride=1 if true else 1 // 0)", blocks=blocks,
            input="3x16x16")
    assert [node.shape for node in n.graph.layers()] == [(4, 8, 8), (8, 8, 8), (8, 8, 8)]


def test_upsampling_divides_the_jump():
    """After upsample(2) neighbouring outputs are half an input pixel apart: nearest
    reads one input pixel, bilinear two per axis; a 3x3 conv then adds 2 jumps."""
    n = net("conv(4, 3, pad=1); maxpool(2); upsample(2); conv(4, 3, pad=1)"
            "; upsample(2, mode=\"bilinear\"); conv(4, 3, pad=1)", input="1x16x16")
    fields = [(s.node.op, s.receptive_field.size[0], s.receptive_field.jump[0])
              for s in n.analysis.layers]
    assert fields == [("conv", 3, 1), ("maxpool", 4, 2), ("upsample", 4, 1), ("conv", 6, 1),
                      ("upsample", 7, Fraction(1, 2)), ("conv", 8, Fraction(1, 2))]


def test_mul_gates_channels_squeeze_and_excitation():
    """Hu et al. 2018: a 64-channel SE block with reduction 16 adds 64*4+4 + 4*64+64
    parameters and scales the 64x32x32 map by a 64x1x1 gate."""
    se = """
block se(c, r = 16) {
  mul {
    identity
    path { avgpool(global); conv(c // r, 1); relu; conv(c, 1); sigmoid }
  }
}"""
    n = net("conv(64, 3, pad=1); se(64)", blocks=se)
    assert n.output_shape == (64, 32, 32)
    assert n.report()["total_params"] == 1792 + 260 + 320
    gate = n.graph.output_node
    assert gate.op == "mul" and [n.graph.nodes[i].shape for i in gate.inputs] == [
        (64, 32, 32), (64, 1, 1)]
    field = n.analysis.layers[-1].receptive_field  # the gate sees everything ...
    assert field.jump == (1, 1) and field.size[0] >= 32  # ... but the map keeps stride 1
    swish = net("conv(8, 3, pad=1); mul { identity; sigmoid }")  # x * sigmoid(x)
    assert swish.output_shape == (8, 32, 32)


def test_the_input_and_a_blocks_input_can_be_named():
    n = cnndsl.loads("network n {\n input 8x8x8 -> image\n conv(8, 3, pad=1)\n"
                     " add { identity; image }\n}\n", path="t.cnn")
    add = n.graph.output_node
    assert add.op == "add" and add.inputs[1] == 0 and n.warnings == []
    preact = """
block preact(c) {
  identity -> x
  bn; relu
  add { conv(c, 3, pad=1); x }
}"""
    n = net("preact(3)", blocks=preact)
    add = n.graph.output_node
    assert [n.graph.nodes[i].op for i in add.inputs] == ["conv", "input"] and n.warnings == []


def test_for_goes_through_a_table_of_stages():
    n = net("for n, c in ((2, 8), (1, 16)) { repeat n { conv(c, 3, pad=1); relu }; maxpool(2) }"
            "\n  for c in (4,) { conv(c, 1) }")
    convs = [node.attrs["channels"] for node in n.graph.nodes if node.op == "conv"]
    assert convs == [8, 8, 16, 4] and n.output_shape == (4, 8, 8)


def test_deconv_is_pytorchs_transposed_convolution():
    """U-Net (Ronneberger et al. 2015): a 2x2 up-convolution halves the channels and
    doubles the map; 1024x28x28 -> 512x56x56 with 1024*512*4 + 512 parameters."""
    n = net("deconv(512, 2, stride=2)", input="1024x28x28")
    up = n.analysis.layers[0]
    assert n.output_shape == (512, 56, 56) and up.cost.params == 1024 * 512 * 4 + 512
    assert up.cost.macs == 1024 * 512 * 4 * 28 * 28
    n = net("deconv(8, 3, stride=2, pad=1, output_pad=1)", input="16x7x7")
    assert n.output_shape == (8, 14, 14)  # (7 - 1) * 2 - 2 + 3 + 1


def test_crop_takes_the_centre_as_the_unet_paper_does():
    """Ronneberger et al. 2015, fig. 1: the 64x568x568 encoder map is cropped to
    392x392 before it is concatenated with the up-convolved 64x392x392 map."""
    n = net("conv(64, 3); relu -> skip\n  maxpool(2); conv(64, 3)\n"
            "  deconv(64, 2, stride=2)\n  concat { path from skip { crop(136) }; identity }",
            input="1x142x142")  # 140x140 skip; 140 -> 70 -> 68 -> 136 on the way up
    crop = next(node for node in n.graph.nodes if node.op == "crop")
    assert crop.shape == (64, 136, 136) and (crop.attrs["top"], crop.attrs["left"]) == (2, 2)
    assert n.output_shape == (128, 136, 136)


def test_names_may_start_with_a_keyword():
    blocks = "block b(c, mult = 2) { conv(c * mult, 1) -> mul_out; mul_out }"
    n = net("let multiplier = 2\n  let addend = 1\n  let concatenated = 3\n"
            "  conv(multiplier + addend + concatenated, 1)\n  b(4)\n  mul { identity; sigmoid }",
            blocks=blocks)
    assert [node.attrs["channels"] for node in n.graph.nodes if node.op == "conv"] == [6, 8]


def test_a_name_read_only_on_some_calls_is_not_unused():
    blocks = """
block pre(c, stride = 1) {
  identity -> x
  bn; relu
  add {
    conv(c, 3, stride=stride, pad=1)
    path if stride != 1 or in.channels != c { conv(c, 1, stride=stride) } else x
  }
}"""
    assert net("pre(8, stride=2)", blocks=blocks, input="4x8x8").warnings == []
