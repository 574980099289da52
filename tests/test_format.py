"""`cnndsl fmt`: idempotent, never changes what a spec means, keeps the author's lines."""

import shutil
from pathlib import Path

import pytest

import cnndsl
from cnndsl.cli import main
from cnndsl.syntax.format import format_text

ROOT = Path(__file__).resolve().parent.parent
ZOO = sorted([*ROOT.glob("specs/*.cnn"), *ROOT.glob("specs/lib/*.cnn")])
ALL = sorted([*ZOO, *ROOT.glob("tests/specs/**/*.cnn")])
NETWORKS = [p for p in ALL if "/lib/" not in p.as_posix()]


def _ids(paths):
    return [p.relative_to(ROOT).as_posix() for p in paths]


def _ir(net):
    """The graph as the back ends see it, without source positions."""
    return [(n.op, dict(n.attrs), n.inputs, n.shape, n.name,
             tuple((f.block, f.name, f.args) for f in n.scope)) for n in net.graph.nodes]


@pytest.fixture(scope="module")
def formatted_tree(tmp_path_factory):
    """A copy of specs/ and tests/specs/ with every file formatted (libraries too)."""
    tree = tmp_path_factory.mktemp("formatted")
    for folder in ("specs", "tests/specs"):
        shutil.copytree(ROOT / folder, tree / folder)
    for path in ALL:
        copy = tree / path.relative_to(ROOT)
        copy.write_text(format_text(copy.read_text(), str(copy)))
    return tree


@pytest.mark.parametrize("spec", NETWORKS, ids=_ids(NETWORKS))
def test_formatting_never_changes_the_ir(spec, formatted_tree):
    copy = formatted_tree / spec.relative_to(ROOT)
    assert _ir(cnndsl.load(copy)) == _ir(cnndsl.load(spec))


@pytest.mark.parametrize("spec", ALL, ids=_ids(ALL))
def test_formatting_is_idempotent(spec):
    once = format_text(spec.read_text(), str(spec))
    assert format_text(once, str(spec)) == once


def test_the_zoo_is_formatted(capsys):
    """CI runs `cnndsl fmt --check` over the zoo through this test."""
    code = main(["fmt", "--check", *[str(p) for p in ZOO]])
    assert code == 0, capsys.readouterr().err


UGLY = """\


# header comment
block   b ( c,k=3 , stride=1 ) {
    let   m=-c*2+1   # aligned with the next comment
        conv( m ,k,stride = stride,pad=k//2 ,bias=false );bn;relu;   # a group
  add{
  path{conv(c,3)
  relu}
          identity
      }
}



network n( classes=10 )
{
        input 3x32x32
    b(16) -> s
  if in.channels>3 and not false { relu } else { tanh }
  for a, w in ((1,2),(3,
        4)) {
    conv(a*w, 3, pad=same)   ;  ;
  }
  conv(
      16,
      -(3 - 6),
  )
  concat { identity ; s }
  avgpool(global);flatten;fc(classes)   ;
  # closing comment
}
"""

PRETTY = """\
# header comment
block b(c, k = 3, stride = 1) {
  let m = -c * 2 + 1 # aligned with the next comment
  conv(m, k, stride=stride, pad=k // 2, bias=false); bn; relu        # a group
  add {
    path { conv(c, 3)
           relu }
    identity
  }
}

network n(classes = 10)
{
  input 3x32x32
  b(16) -> s
  if in.channels > 3 and not false { relu } else { tanh }
  for a, w in ((1, 2), (3,
                        4)) {
    conv(a * w, 3, pad=same)
  }
  conv(
      16,
      -(3 - 6),
  )
  concat { identity; s }
  avgpool(global); flatten; fc(classes)
  # closing comment
}
"""


def test_the_canonical_layout():
    """Indentation, spacing around `=` (none inside a call), operators and commas,
    grouped statements kept on their line, comments kept (trailing ones at their
    column where the code leaves room), blank lines collapsed, redundant ';' gone."""
    assert format_text(UGLY, "ugly.cnn") == PRETTY
    assert format_text(PRETTY, "pretty.cnn") == PRETTY


@pytest.mark.parametrize("source, expected", [
    ("network n {\n  input 3x8x8\n  conv(8, 3) ; relu\n}\n",
     "network n {\n  input 3x8x8\n  conv(8, 3); relu\n}\n"),
    ("network n {\r\n input 3x8x8\r\n}\r\n", "network n {\r\n  input 3x8x8\r\n}\r\n"),
    ("\ufeffnetwork n {\n input 3x8x8\n}", "\ufeffnetwork n {\n  input 3x8x8\n}\n"),
    ("network n {\n  input 3x8x8\n  relu \\\n  ; tanh\n}\n",
     "network n {\n  input 3x8x8\n  relu \\\n      ; tanh\n}\n"),
    ("network n {\n  input 3x8x8\n  add { identity\n   path { relu\n   tanh }\n  }\n}\n",
     "network n {\n  input 3x8x8\n  add { identity\n        path { relu\n               tanh }\n"
     "  }\n}\n"),
    ("network n { input 3x8x8; fc(-1 + 2 ** -2) }\n",
     "network n { input 3x8x8; fc(-1 + 2 ** -2) }\n"),
    ("", ""),
])
def test_layout_cases(source, expected):
    assert format_text(source, "case.cnn") == expected
    assert format_text(expected, "case.cnn") == expected


TABLES = """\
let T = {"a": 1,   "b": [1, 2, 3][0:2],
         "c": {"x": -1}}
let ROWS = {
  "b0": (1.0, 224),  "b1": (1.1, 240),
  "b2": (1.2, 260), "b3": (1.4, 300),
}
def f(v, d = 8) { v + d }
network n(k in [1, 2] = 1) {
  input 3x8x8
  let w = [c * 2 for c in [1, 2] if c > 0]
  conv(w[0], 3); conv(w[-1:][0], 1)
}
"""


def test_lists_tables_and_functions():
    """A table's braces hug their items and its rows indent like a body; columns the
    author aligned after a ',' in a list or table stay aligned; a `def`'s defaults
    are spaced like a block's."""
    ugly = TABLES.replace('{"x": -1}', '{ "x" : - 1 }').replace("d = 8", "d=8").replace(
        "[c * 2 for c in [1, 2] if c > 0]", "[ c*2 for c in [1,2] if c>0 ]").replace(
        '  "b2"', '      "b2"')
    assert format_text(ugly, "t.cnn") == TABLES
    assert format_text(TABLES, "t.cnn") == TABLES


def test_a_tuple_keeps_its_comma():
    source = "network n {\n  input 3x8x8\n  for c in (4,) { conv(c, 1) }\n}\n"
    assert format_text(source, "t.cnn") == source


def test_fmt_rewrites_in_place_and_reports(tmp_path, capsys):
    spec = tmp_path / "a.cnn"
    spec.write_text("network n {\ninput 3x8x8\n}\n")
    good = tmp_path / "b.cnn"
    good.write_text("network n {\n  input 3x8x8\n}\n")
    assert main(["fmt", "--check", str(spec), str(good)]) == 1
    assert spec.read_text() == "network n {\ninput 3x8x8\n}\n"  # --check writes nothing
    assert main(["fmt", "--diff", str(spec)]) == 0
    out, err = capsys.readouterr()
    assert "-input 3x8x8\n+  input 3x8x8" in out and f"would reformat {spec}" in err
    assert main(["fmt", str(spec), str(good)]) == 0
    assert spec.read_text() == good.read_text()
    assert "1 file reformatted, 1 file left unchanged." in capsys.readouterr().err


def test_fmt_refuses_a_spec_that_does_not_parse(tmp_path, capsys):
    spec = tmp_path / "bad.cnn"
    spec.write_text("network n {\n  conv(16, 3 pad=1)\n}\n")
    assert main(["fmt", str(spec)]) == 1
    assert spec.read_text() == "network n {\n  conv(16, 3 pad=1)\n}\n"
    assert f"{spec}:2:14: error: unexpected 'pad'" in capsys.readouterr().err


def test_fmt_reads_standard_input(monkeypatch, capsys):
    import io
    spec = io.TextIOWrapper(io.BytesIO(b"network n { input 3x8x8;relu }"))
    monkeypatch.setattr("sys.stdin", spec)
    monkeypatch.setattr("cnndsl.elaborate.program._stdin_text", [])  # (read once per process)
    assert main(["fmt", "-"]) == 0
    assert capsys.readouterr().out == "network n { input 3x8x8; relu }\n"
