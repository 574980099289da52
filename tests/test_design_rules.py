"""The language pieces a design rule needs: lists, tables, subscripts, comprehensions,
math and list functions, `def` functions, top-level constants, parameter choices,
`defaults { }`, pad_channels and crop(like=).  Mostly data: expressions and the
values (or errors) they give."""

from __future__ import annotations

import pytest

import cnndsl
from cnndsl.elaborate.expressions import Evaluator
from cnndsl.elaborate.values import Table
from cnndsl.syntax import parse_text


def value(source: str):
    module = parse_text(f"block b(x = {source}) {{ relu }}", "expr.cnn")
    return Evaluator({}, None)(module.blocks[0].params[0].default)


@pytest.mark.parametrize("source, expected", [
    ("[16, 24, 40][0]", 16), ("[16, 24, 40][-1]", 40), ("(1, 2, 3)[1:]", (2, 3)),
    ("[1, 2, 3, 4][::2]", (1, 3)), ("[1, 2, 3][:-1]", (1, 2)), ("[1, 2, 3][::-1]", (3, 2, 1)),
    ("[1, 2, 3][5:]", ()), ("3x224x224[1]", 224), ("[[1, 2], [3]][0][1]", 2),
    ("[]", ()), ("[1, 2] == (1, 2)", True), ("[1, 2] + [3]", (1, 2, 3)), ("[0] * 3", (0, 0, 0)),
    ("len([1, 2, 3])", 3), ("len(3x224x224)", 3), ("len(\"b0\")", 2), ("len({\"a\": 1})", 1),
    ('{"b0": (1.0, 224), "b1": (1.1, 240)}["b1"][1]', 240), ("{1: 10, 2: 20}[2]", 20),
    ("[c * 2 for c in [16, 24]]", (32, 48)), ("[c for c in range(6) if c % 2 == 0]", (0, 2, 4)),
    ("[a * b for a, b in zip([1, 2], [3, 4])]", (3, 8)), ("[k for k in {\"a\": 1, \"b\": 2}]",
                                                          ("a", "b")),
    ("[(i, w) for i, w in enumerate([16, 24])]", ((0, 16), (1, 24))),
    ("range(3)", (0, 1, 2)), ("range(2, 8, 3)", (2, 5)), ("range(3, 0, -1)", (3, 2, 1)),
    ("sum([1, 2, 3])", 6), ("sum([])", 0), ("sum([0.5, 0.25])", 0.75),
    ("max([3, 9, 4])", 9), ("min(3, 9)", 3), ("max(2, 7, 5)", 7),
    # Python's round: halves to even (RegNet's quantisation depends on it)
    ("round(2.5)", 2), ("round(3.5)", 4), ("round(22.5)", 22), ("round(-0.5)", 0),
    ("round(2.675, 2)", 2.67), ("round(7)", 7),
    ("int(-2.7)", -2), ("int(7.9)", 7), ("ceil(1.1)", 2), ("ceil(3)", 3), ("floor(-1.1)", -2),
    ("log(8, 2)", 3.0), ("round(log(100, 10))", 2), ("exp(0)", 1.0), ("sqrt(16)", 4.0),
    ("abs(-3)", 3), ("[w for w in [8, 8, 16, 16, 32] if w > 8][0]", 16),
])
def test_expression_values(source, expected):
    result = value(source)
    assert result == expected and type(result) is type(expected)


def test_a_table_is_a_read_only_hashable_value():
    table = value('{"b0": (1.0, 224)}')
    assert isinstance(table, Table) and hash(table) == hash(value('{"b0": (1.0, 224)}'))


@pytest.mark.parametrize("source, message", [
    ("[1, 2][2]", "index 2 is out of range for a list of 2 values"),
    ("[][0]", "index 0 is out of range for a list of 0 values"),
    ("[1, 2][0.5]", "a list index must be a whole number, got 0.5"),
    ("5[0]", "cannot index 5"),
    ('{"a": 1}["b"]', 'no row "b" in this table'),
    ("{1: 2, 1: 3}", "key 1 appears twice in this table"),
    ("{[1]: 2}", "a table's keys are strings or whole numbers"),
    ("[1, 2][::0]", "a slice step must not be 0"),
    ("[1, 2][0.5:]", "slice bounds must be whole numbers"),
    ("len(5)", "len() needs a list, got 5"),
    ("range(10 ** 6)", "far beyond any real network"),
    ("[0] * 10 ** 6", "far beyond any real network"),
    ("range(1, 5, 0)", "range() step must not be 0"),
    ("range(2.5)", "range() needs whole numbers"),
    ("log(0)", "log() of 0 is undefined"), ("log(8, 1)", "log() base 1 is undefined"),
    ("sqrt(-1)", "sqrt() of -1 is undefined"), ("exp(1000)", "not a number cnndsl can use"),
    ("zip([1], [1, 2])", "zip() of lists of different lengths (1, 2)"),
    ("max([])", "max() of an empty list"), ("sum([1, \"a\"])", "sum() needs a list of numbers"),
    ("round(1.5, 0.5)", "round() digits must be a whole number"),
    ("round(1, 2, 3)", "round() takes 1 to 2 arguments, got 3"),
    ("[1] + 2", "lists join with + and repeat with * a whole number"),
    ("max(x=1)", "max() takes no keyword arguments"),
    ("floor([1])", "floor() needs numbers"),
    ("nosuch(1)", "unknown function 'nosuch'"),
    ("[c for c in 5]", "a list comprehension needs a list to go through, got 5"),
    ("[a for a, b in [(1, 2), (3,)]]", "a, b needs 2 values, got 1 values"),
])
def test_expression_errors(source, message):
    with pytest.raises(cnndsl.SpecError) as info:
        value(source)
    assert message in info.value.message
    assert info.value.span.path == "expr.cnn" and info.value.span.line == 1


def test_nested_comprehensions_are_stopped_before_they_hang():
    """Each list is at most 100,000 values, but nested comprehensions multiply: all the
    comprehensions of a check share a budget of items (1,000,000; here 10)."""
    from cnndsl.elaborate.expressions import Environment
    module = parse_text("block b(x = [[j for j in range(5)] for i in range(3)]) { relu }", "e.cnn")
    expr = module.blocks[0].params[0].default
    assert Evaluator({}, None, Environment(items_left=18))(expr) == ((0, 1, 2, 3, 4),) * 3
    with pytest.raises(cnndsl.SpecError) as info:
        Evaluator({}, None, Environment(items_left=10))(expr)
    assert "comprehensions compute more than 1,000,000 values" in info.value.message


def net(body: str, head: str = "", **kwargs) -> cnndsl.Network:
    return cnndsl.loads(f"{head}\nnetwork n {{\n  input 3x16x16\n{body}\n}}\n", "n.cnn", **kwargs)


def channels(network) -> list[int]:
    return [n.shape[0] for n in network.graph.nodes if n.op == "conv"]


# ---- functions and constants -------------------------------------------------------

RULES = """
let WIDTHS = [16, 24, 40]
let BASE, STEP = (8, 4)           # unpacking at the top level too
def make_divisible(v, divisor = 8, min_value = divisor) {
  let rounded = max(min_value, int(v + divisor / 2) // divisor * divisor)
  rounded + divisor if rounded < 0.9 * v else rounded
}
def scaled(widths, width) { [make_divisible(c * width) for c in widths] }
"""


def test_functions_and_constants_compute_a_stage_table():
    n = net("  for c in scaled(WIDTHS, 0.75) { conv(c, 3, pad=1) }\n"
            "  conv(make_divisible(20, divisor=STEP), 1)\n  conv(BASE + STEP, 1)", RULES)
    # 12 -> 16; 18 -> 16 is more than 10% below, so 24; 30 -> 32
    assert channels(n) == [16, 24, 32, 20, 12]


def test_a_function_sees_only_its_arguments_and_the_constants():
    with pytest.raises(cnndsl.SpecError) as info:
        net("  conv(f(), 1)", "def f() { in.channels }")
    assert "`in` has no value here" in info.value.message
    assert "pass `in.channels` to it" in info.value.diagnostics[0].hint
    with pytest.raises(cnndsl.SpecError) as info:
        cnndsl.loads("def f() { c * 2 }\nblock b(c) { conv(f(), 1) }\n"
                     "network n {\n  input 3x8x8\n  b(4)\n}", "n.cnn")
    assert "unknown parameter 'c'" in info.value.message
    note, call = info.value.diagnostics[0].notes  # innermost first: then the block's call
    assert note[1] == "in this call of f" and note[0].line == 2
    assert call[1] == "in b(c=4) called here" and call[0].line == 5


@pytest.mark.parametrize("head, body, message", [
    ("def max(a) { a }", "relu", "function 'max' has the name of a built-in function"),
    ("def f(a) { a }\ndef f(b) { b }", "relu", "function 'f' is defined twice"),
    ("def f(a, a) { a }", "relu", "parameter 'a' appears twice in function 'f'"),
    ("def f(a) { a }", "conv(f(), 1)", "function f needs argument 'a'"),
    ("def f(a) { a }", "conv(f(1, 2), 1)", "function f takes 1 positional argument (a), got 2"),
    ("def f(a) { a }", "conv(f(b=1), 1)", "function f has no argument 'b'"),
    ("let A = 1\nlet A = 2", "relu", "constant 'A' is defined twice"),
    ("let A = B\nlet B = 1", "relu", "unknown parameter 'B'"),
    ("def f(k in (1, 3) = 1) { k }", "conv(4, f(2))", "k = 2 is not one of the values k allows"),
])
def test_function_and_constant_errors(head, body, message):
    with pytest.raises(cnndsl.SpecError) as info:
        net(f"  {body}", head)
    assert message in info.value.message


def test_let_unpacks_and_may_come_before_input():
    n = cnndsl.loads('let SIZES = {"s": (16, 8), "l": (32, 16)}\n'
                     "network n(size in SIZES = \"s\") {\n  let side, c = SIZES[size]\n"
                     "  input (3, side, side)\n  let a, b = (c, 2 * c)\n"
                     "  conv(a, 3); conv(b, 1)\n}",
                     "n.cnn", params={"size": "l"})
    assert n.input_shape == (3, 32, 32) and channels(n) == [16, 32]
    with pytest.raises(cnndsl.SpecError) as info:
        net("  let a, b = (1, 2, 3)\n  conv(a + b, 1)")
    assert "a, b needs 2 values, got 3 values" in info.value.message


def test_graph_params_are_the_network_parameters_not_its_lets():
    """What a checkpoint stores and `build --weights` sets again: never a let's name."""
    n = cnndsl.loads("network n(c = 4) {\n  let side = 8\n  input (3, side, side)\n"
                     "  let d = 2 * c\n  conv(d, 1)\n}", "n.cnn")
    assert n.graph.params == (("c", 4),)


def test_block_parameter_choices_are_checked_at_the_call():
    head = ('block act(kind in ("relu", "tanh") = "relu") '
            '{ if kind == "relu" { relu } else { tanh } }')
    assert [n.op for n in net("  conv(4, 1); act(\"tanh\")", head).graph.layers()] == \
        ["conv", "tanh"]
    with pytest.raises(cnndsl.SpecError) as info:
        net('  conv(4, 1); act("gelu")', head)
    error = info.value.diagnostics[0]
    assert error.message.startswith('kind = "gelu" is not one of the values kind allows')
    assert error.span.line == 4 and error.notes[0][0].line == 1  # the argument, and the list
    with pytest.raises(cnndsl.SpecError) as info:
        cnndsl.loads("network n(k in (1, 3) = 2) {\n  input 3x8x8\n  conv(4, k)\n}", "n.cnn")
    assert info.value.span.column == 25  # the default that is not in the list


# ---- defaults { } ------------------------------------------------------------------

BLOCKS = "block conv_bn(c) { conv(c, 3, pad=1); bn; relu }"


def bn_eps(network) -> list[float]:
    return [dict(n.attrs)["eps"] for n in network.graph.nodes if n.op == "bn"]


def test_defaults_reach_the_blocks_called_after_them():
    n = net("  conv_bn(4)\n  defaults { bn(eps=0.001, momentum=0.01); conv(bias=false) }\n"
            "  conv_bn(4); bn(eps=0.1)", BLOCKS)
    assert bn_eps(n) == [1e-5, 0.001, 0.1]  # before it, after it, overridden at the layer
    convs = [dict(x.attrs) for x in n.graph.nodes if x.op == "conv"]
    assert [c["bias"] for c in convs] == [True, False]


def test_defaults_are_scoped_to_their_body():
    n = net("  repeat 1 { defaults { bn(eps=0.01) }; conv_bn(4) }\n  conv_bn(4)\n"
            "  add { path { defaults { bn(eps=0.02) }; bn }; bn }\n  bn", BLOCKS)
    assert bn_eps(n) == [0.01, 1e-5, 0.02, 1e-5, 1e-5]


def test_a_blocks_own_defaults_win_inside_it_and_stay_there():
    head = "block inner() { defaults { bn(eps=0.5) }; bn }"
    n = net("  defaults { bn(eps=0.25) }\n  conv(4, 1); inner(); bn", head)
    assert bn_eps(n) == [0.5, 0.25]


def test_defaults_values_are_expressions_and_show_in_the_table():
    from cnndsl.report.table import render_table
    n = net("  let e = 10 ** -3\n  defaults { batchnorm(eps=e, momentum=0.01) }\n  conv(4, 1); bn")
    assert bn_eps(n) == [0.001]
    assert "bn eps=0.001, momentum=0.01" in render_table(n.analysis)


@pytest.mark.parametrize("body, message", [
    ("defaults { bn(epsilon=0.1) }", "bn has no argument 'epsilon'"),
    ("defaults { bn(eps=-1) }", "bn eps: expected a number above 0, got -1"),
    ("defaults { conv_bn(c=4) }", "defaults sets layer arguments; 'conv_bn' is a block"),
    ("defaults { nosuch(a=1) }", "defaults sets layer arguments; 'nosuch' is not a layer"),
    ("defaults { crop(like=x) }", "defaults cannot set crop like=, which names a tensor"),
    ("defaults { bn(eps=0.1) } -> x", "`-> x` names a tensor, and `defaults` makes none"),
])
def test_defaults_errors(body, message):
    with pytest.raises(cnndsl.SpecError) as info:
        net(f"  {body}\n  conv_bn(4)", BLOCKS)
    assert message in info.value.message and info.value.span.line == 4


def test_defaults_make_the_pytorch_module():
    torch = pytest.importorskip("torch")
    module = net("  defaults { conv(bias=false); bn(eps=0.001, momentum=0.01) }\n"
                 "  conv(4, 3); bn; fc_head()", "block fc_head() { flatten; fc(2) }").to_torch()
    assert module.conv1.bias is None and module.bn1.eps == 0.001 and module.bn1.momentum == 0.01
    assert module(torch.zeros(1, 3, 16, 16)).shape == (1, 2)


# ---- pad_channels and crop(like=) -------------------------------------------------

def test_pad_channels_adds_zero_channels_without_parameters():
    n = net("  conv(4, 1); pad_channels(2, 3); pad_channels(1)")
    nodes = [x for x in n.graph.nodes if x.op == "pad_channels"]
    assert [x.shape for x in nodes] == [(9, 16, 16), (11, 16, 16)]
    assert [(dict(x.attrs)["before"], dict(x.attrs)["after"]) for x in nodes] == [(2, 3), (1, 1)]
    assert n.analysis.total_params == 3 * 4 + 4
    assert n.analysis.output_field.size == (1, 1)


def test_pad_channels_in_pytorch_puts_the_input_in_the_middle():
    torch = pytest.importorskip("torch")
    module = net("  pad_channels(2, 1)").to_torch()
    x = torch.randn(2, 3, 16, 16)
    out = module(x)
    assert out.shape == (2, 6, 16, 16) and torch.equal(out[:, 2:5], x)
    assert not out[:, :2].any() and not out[:, 5:].any()


def test_crop_like_crops_to_a_named_values_size():
    n = net("  conv(4, 3) -> skip\n  conv(4, 3); conv(4, 3) -> up\n"
            "  concat { path from skip { crop(like=up) }; up }")
    crop = next(x for x in n.graph.nodes if x.op == "crop")
    assert crop.shape == (4, 10, 10) and dict(crop.attrs)["size"] == (10, 10)
    assert (dict(crop.attrs)["top"], dict(crop.attrs)["left"]) == (2, 2)
    assert n.warnings == []  # `up` is read by crop(like=up): not an unused name


@pytest.mark.parametrize("body, message", [
    ("conv(4, 3) -> a\n  crop(8, like=a)", "crop takes a size (HxW) or like=NAME, not both"),
    ("crop", "crop takes a size (HxW) or like=NAME, and got neither"),
    ("flatten -> v\n  crop(like=v)", "crop needs a CxHxW feature map"),
    ("conv(4, 3) -> a\n  crop(like=a + 1)", "crop like= names a tensor, e.g. `like=skip`"),
    ("identity -> image\n  conv(4, 3)\n  crop(like=image)",
     "crop to 16x16 needs a map at least that large, got 14x14"),
])
def test_crop_like_errors(body, message):
    with pytest.raises(cnndsl.SpecError) as info:
        net(f"  {body}")
    assert message in info.value.message
