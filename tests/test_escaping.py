"""Every user string reaching an output language goes through that language's one
escaping function (cnndsl.escape); each is property-tested here over arbitrary
strings, alone and where it lands: generated Python, DOT, Mermaid, the terminal.
Issue 11 items 2 (generated source that does not compile) and 3 (markup and
terminal injection)."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import unicodedata
import xml.etree.ElementTree as ElementTree

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import cnndsl
from cnndsl import escape
from cnndsl.backends.graph import build_view, to_dot, to_mermaid
from cnndsl.cli import main

# every code point, lone surrogates included (argv and file names can hold them)
ANY_TEXT = st.text(st.characters(blacklist_categories=()), max_size=60)
HOSTILE = ["\x1b[2J\x1b]0;owned\x07", "a\r\n```\n<img src=x onerror=alert(1)>", "\\xZZ\\",
           '"""', "%%{init: {'theme': 'dark'}}%%", "#quot;&lt;", "\u202eevil", "\udcff",
           "\\N\\G\\l", "back`tick|pipe", "\x00\x85\u2028"]
TEXTS = st.one_of(ANY_TEXT, st.sampled_from(HOSTILE),
                  st.lists(st.sampled_from(HOSTILE + ["a" * 40, " "]), max_size=8).map("".join))
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# a string block argument, set from the command line, reaches every output:
# the generated docstring, the DOT and Mermaid cluster titles
SPEC = """
block tagged(c, tag = "t") { conv(c, 3, pad=1) }
network tags(tag = "t") {
  input 1x8x8
  tagged(4, tag=tag)
  flatten; fc(2)
}
"""


def _visible(text: str) -> str:
    """What a docstring written by python_text shows for `text`."""
    return "".join("'" if c == '"' else c if " " <= c <= "~" else escape._spelled(c)
                   for c in text)


def _unsafe_for_terminal(text: str) -> list[str]:
    return [c for c in text if unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp")
            and c != "\n" or c in escape._BIDI]


# ---- each function alone -------------------------------------------------------------

@FAST
@given(TEXTS, st.integers(12, 100))
def test_docstring_lines_compile_and_keep_the_text(text, width):
    lines = escape.python_doc_lines(text, width)
    assert all(len(line) <= width for line in lines)
    compile('def f():\n    """' + "\n    ".join(lines) + '"""\n', "<doc>", "exec")
    # no escape is cut: every line is a complete string body on its own
    shown = "".join(ast.literal_eval('"""' + line + '"""') for line in lines)
    assert shown.replace(" ", "") == _visible(text).replace(" ", "")


@FAST
@given(TEXTS)
def test_python_string_is_a_literal_of_exactly_the_text(text):
    assert ast.literal_eval(escape.python_string(text)) == text


@FAST
@given(TEXTS)
def test_python_text_is_one_printable_ascii_line(text):
    line = escape.python_text(text)
    assert all(" " <= c <= "~" for c in line) and '"' not in line
    compile(f"# {line}\nx = 1  # {line}\n", "<comment>", "exec")


@FAST
@given(TEXTS)
def test_dot_string_parses_with_pydot(text):
    pydot = pytest.importorskip("pydot")
    quoted = escape.dot(text)
    graph = pydot.graph_from_dot_data(f"digraph g {{ a [label={quoted}]; }}")
    assert graph and graph[0].get_node("a")[0].get("label") == quoted


@FAST
@given(TEXTS)
def test_mermaid_text_cannot_leave_its_label(text):
    label = escape.mermaid(text).replace("<br/>", "")
    assert not set(label) & set('"<>`|%\r\n')
    assert not _unsafe_for_terminal(label)


@FAST
@given(TEXTS)
def test_markdown_text_stays_in_its_cell(text):
    cell = escape.markdown(text)
    assert "\n" not in cell and "\r" not in cell and not set(cell) & set("<>")
    assert not re.search(r"(?<!\\)(\\\\)*[|`*_\[\]]", cell.replace("&lt;", "").replace("&gt;", ""))


@FAST
@given(TEXTS)
def test_terminal_text_holds_no_control_character(text):
    shown = escape.terminal(text)
    assert not _unsafe_for_terminal(shown)
    shown.encode("utf-8")  # no lone surrogate: printable to any UTF-8 terminal


def test_json_text_never_writes_nan():
    text = escape.json_text({"loss": float("nan"), "top": [float("inf"), 1.5]})
    assert json.loads(text, parse_constant=lambda c: pytest.fail(c)) == \
        {"loss": None, "top": [None, 1.5]}


# ---- where the strings land --------------------------------------------------------

def _network(tag: str, path: str = "tags.cnn"):
    return cnndsl.loads(SPEC, path, params={"tag": tag})


@FAST
@given(TEXTS, TEXTS)
def test_generated_python_compiles_for_any_tag_and_path(tag, path):
    from cnndsl.backends.torch import generate_source
    source = generate_source(_network(tag, path or "x"))
    compile(source, "<generated>", "exec")
    assert all(" " <= c <= "~" for line in source.splitlines() for c in line)


@FAST
@given(TEXTS)
def test_dot_of_any_tag_parses(tag):
    pydot = pytest.importorskip("pydot")
    source = to_dot(build_view(_network(tag).graph))
    assert pydot.graph_from_dot_data(source)


@FAST
@given(TEXTS)
def test_mermaid_of_any_tag_is_one_fence_without_raw_markup(tag):
    chart = to_mermaid(build_view(_network(tag).graph))
    lines = chart.splitlines()
    assert lines[0] == "```mermaid" and lines[-1] == "```"
    assert not any("`" in line for line in lines[1:-1])
    labels = re.findall(r'"([^"]*)"', chart)
    assert labels and chart.count('"') % 2 == 0
    for label in labels:
        assert not set(label.replace("<br/>", "")) & set("<>\r\n")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
@pytest.mark.parametrize("tag", HOSTILE)
def test_graphviz_draws_hostile_tags_as_valid_svg(tag):
    source = to_dot(build_view(_network(tag).graph))
    svg = subprocess.run(["dot", "-Tsvg"], input=source.encode(), capture_output=True,
                         check=True).stdout
    ElementTree.fromstring(svg)  # no control character can break the XML


# ---- issue 11 item 2: docstrings and long adds -------------------------------------

def test_long_string_with_a_backslash_is_not_split_inside_its_escape():
    """block b(c, tag = "aaaa…\\xZZbbbb…"): textwrap cut `\\\\\\` from `\\xZZ` in the
    docstring; the same through the spec's path."""
    from cnndsl.backends.torch import generate_source
    for n in range(110, 140):
        tag = "a" * n + "\\xZZ" + "b" * 10
        spec = (f'block b(c, tag = "{tag}") {{ conv(c, 3) }}\n'
                'network n { input 1x8x8; b(4); flatten; fc(2) }\n')
        compile(generate_source(cnndsl.loads(spec, "spec.cnn")), "<generated>", "exec")
        path = "/tmp/" + "p" * n + "\\xZZ" + "q" * 10 + ".cnn"
        compile(generate_source(cnndsl.loads(spec, path)), "<generated>", "exec")


@pytest.mark.parametrize("kind", ["add", "mul"])
def test_3000_branch_merge_generates_python_that_compiles(kind):
    """An add of ~3,000 branches was `x + x2 + ...`, a RecursionError in compile();
    above 16 terms it is one flat sum([...], x) / math.prod([...], start=x)."""
    from cnndsl.backends.torch import generate_source
    branches = "\n".join(["    path { identity }"] + ["    path { relu }"] * 2999)
    net = cnndsl.loads(f"network wide {{ input 2x2x2\n  {kind} {{\n{branches}\n  }}\n}}\n")
    source = generate_source(net)
    compile(source, "<generated>", "exec")
    flat = "sum(" if kind == "add" else "math.prod("
    assert flat in source and ("import math" in source) == (kind == "mul")


@pytest.mark.parametrize("kind", ["add", "mul"])
def test_small_merges_still_read_as_operators_and_flat_ones_compute_the_same(kind):
    torch = pytest.importorskip("torch")
    from cnndsl.backends.torch import generate_source
    for n in (2, 16, 17, 40):
        branches = "\n".join(["    path { identity }"]
                             + ["    path { conv(3, 1) }"] * (n - 1))
        net = cnndsl.loads(f"network m {{ input 3x4x4\n  {kind} {{\n{branches}\n  }}\n}}\n")
        source = generate_source(net)
        assert (("sum(" if kind == "add" else "math.prod(") in source) == (n > 16)
        model = net.to_torch().double().eval()
        x = torch.randn(2, 3, 4, 4, dtype=torch.float64)
        convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
        expected = x
        for conv in convs:  # left to right, as `x + a + b ...` computes
            expected = expected + conv(x) if kind == "add" else expected * conv(x)
        with torch.no_grad():
            assert torch.equal(model(x), expected)


def test_flat_merge_source_is_black_formatted():
    black = pytest.importorskip("black")
    from cnndsl.backends.torch import generate_source
    branches = "\n".join(["    path { identity }"] + ["    path { relu }"] * 30)
    source = generate_source(cnndsl.loads(
        f"network wide {{ input 2x2x2\n  mul {{\n{branches}\n  }}\n}}\n"))
    assert black.format_str(source, mode=black.Mode(line_length=99)) == source


# ---- issue 11 item 3: markup and terminal injection ---------------------------------

def test_set_value_cannot_close_the_mermaid_fence_or_inject_html(tmp_path, capsys):
    spec = tmp_path / "tags.cnn"
    spec.write_text(SPEC)
    out = tmp_path / "tags.md"
    hostile = "x\r\n```\n<img src=x onerror=alert(1)>"
    assert main(["graph", str(spec), "-o", str(out), "--set", f"tag={hostile}"]) == 0
    chart = out.read_text()
    assert chart.count("```") == 2 and chart.startswith("```mermaid\n")
    assert "<img" not in chart and "\r" not in chart
    assert "#60;img src=x onerror=alert(1)#62;" in chart


def test_diagnostics_never_echo_terminal_escapes(tmp_path, capsys):
    spec = tmp_path / "esc.cnn"
    spec.write_text('network n {\n  input 1x8x8\n  conv(4, "\x1b]0;owned\x07\x1b[2J")\n}\n')
    assert main(["check", str(spec)]) == 1
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err
    assert "\\x1b]0;owned\\x07" in err
    line, caret = [l for l in err.splitlines() if l.startswith("  ")][:2]
    assert line.index('"') == caret.index("^")  # the caret still points at the string


def test_eval_class_table_escapes_class_names(tmp_path, capsys):
    pytest.importorskip("torch")
    from PIL import Image
    from conftest import ROOT
    data = tmp_path / "data"
    for split in ("train", "val"):
        for k, name in enumerate(["\x1b[31mred", "bell\x07"]):
            folder = data / split / name
            folder.mkdir(parents=True)
            for i in range(4):
                Image.new("L", (8, 8), 40 + 120 * k + i).save(folder / f"{i}.png")
    run = tmp_path / "run"
    spec = ROOT / "tests" / "specs" / "train_tiny.cnn"
    assert main(["train", str(spec), "--data", f"imagefolder:{data}", "--epochs", "1",
                 "--batch-size", "4", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["eval", str(spec), "--weights", str(run / "best.pt")]) == 0
    out, err = capsys.readouterr()
    assert "\x1b" not in out + err and "\x07" not in out + err
    assert "\\x1b[31mred" in out


@FAST
@given(TEXTS)
def test_utf8_text_always_encodes(text):
    escape.utf8_text(text).encode("utf-8")


def test_onnx_metadata_of_an_undecodable_file_name(tmp_path):
    """A spec whose file name is not UTF-8 (Python reads the byte as a lone surrogate)."""
    pytest.importorskip("onnx")
    net = cnndsl.loads("network n { input 1x4x4; conv(2, 1) }", str(tmp_path / "\udcff.cnn"))
    net.to_onnx(tmp_path / "n.onnx")
    assert (tmp_path / "n.onnx").stat().st_size > 0


NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(NAMES, NAMES, NAMES, TEXTS)
def test_any_names_give_compiling_python_and_parsing_diagrams(block, network, bound, tag):
    """Block, network and named-value names (the grammar's identifiers, keywords and
    the generated code's own names included) with any string argument: either a
    clear SpecError or source that compiles and diagrams that parse."""
    pydot = pytest.importorskip("pydot")
    from cnndsl.backends.torch import generate_source
    spec = (f'block {block}(c, tag = "t") {{ conv(c, 3, pad=1) -> {bound}; relu; '
            f'add {{ identity; {bound} }} }}\n'
            f'network {network}(tag = "t") {{ input 1x8x8; {block}(4, tag=tag); flatten; '
            f'fc(2) }}\n')
    try:
        net = cnndsl.loads(spec, "names.cnn", params={"tag": tag})
        source = generate_source(net)
    except cnndsl.SpecError as exc:
        assert not _unsafe_for_terminal(str(exc))
        return
    compile(source, "<generated>", "exec")
    view = build_view(net.graph)
    assert pydot.graph_from_dot_data(to_dot(view))
    chart = to_mermaid(view)
    assert chart.count("```") == 2 and "<img" not in chart


@FAST
@given(st.lists(TEXTS, min_size=1, max_size=4))
def test_eval_table_of_any_class_names(names):
    from cnndsl.train.evaluate import render
    k = len(names)
    table = render({"data": "imagefolder:x", "count": k, "accuracy": 1.0, "loss": 0.0,
                    "classes": names, "confusion": [[int(i == j) for j in range(k)]
                                                    for i in range(k)]})
    assert not _unsafe_for_terminal(table)


@pytest.mark.parametrize("name", ["_0", "__", "_9lives"])
def test_names_starting_with_underscore_and_digit_make_valid_classes(name):
    """Found by the property test above: network `_0` generated `class 0(nn.Module)`."""
    from cnndsl.backends.torch import generate_source
    spec = f"network {name} {{ input 1x8x8; conv(2, 1) }}\n"
    try:
        source = generate_source(cnndsl.loads(spec))
    except cnndsl.SpecError as exc:  # `__` is refused: it would start a dunder name
        assert "cannot be used as a Python name" in str(exc)
        return
    compile(source, "<generated>", "exec")
