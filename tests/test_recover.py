"""Parsing with error recovery (the editor's parser): every syntax error, the rest of
the file still read, and the network built up to the unreadable line."""

import random
from pathlib import Path

import pytest

from cnndsl.errors import SpecError
from cnndsl.lsp.analysis import check
from cnndsl.syntax import ast
from cnndsl.syntax.format import _meaning
from cnndsl.syntax.parser import parse_text
from cnndsl.syntax.recover import parse_recovering

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [p.read_text() for p in sorted([*ROOT.glob("specs/*.cnn"), *ROOT.glob("specs/lib/*.cnn"),
                                          *ROOT.glob("tests/specs/*.cnn")])]


def statements(definition):
    return [getattr(s.action, "name", type(s.action).__name__) for s in definition.body.statements]


def test_a_broken_statement_is_skipped_and_the_rest_read():
    text = ("block b(c) {\n  conv(c, 3 pad=1); relu\n  bn\n}\n"
            "network n {\n  input 3x32x32\n  conv(16, 3, pad=1) relu\n  b(16)\n  fc(10,, 3)\n"
            "  relu\n}\n")
    module, errors = parse_recovering(text, "t.cnn")
    assert [(e.span.line, e.span.column) for e in errors] == [(2, 13), (7, 22), (9, 9)]
    assert statements(module.blocks[0]) == [ast.BROKEN, "relu", "bn"]
    assert statements(module.networks[0]) == ["InputDecl", ast.BROKEN, "b", ast.BROKEN, "relu"]


def test_a_broken_header_leaves_a_stub_block():
    text = "block b(c,, d) {\n  relu\n}\nnetwork n {\n  input 3x8x8\n  b(3)\n}\n"
    module, errors = parse_recovering(text, "t.cnn")
    assert len(errors) == 1 and [b.name for b in module.blocks] == ["b"]
    checked = check(text, "/tmp/stub.cnn")  # no "unknown block b", no argument error
    assert [d.message for d in checked.diagnostics] == [errors[0].message]


def test_a_missing_brace_before_the_next_item():
    text = ("block b(c) {\n  add {\n    path { conv(c, 3)\n    identity\n  }\n  relu\n}\n"
            "network n {\n input 3x8x8\n b(3)\n}\n")
    module, errors = parse_recovering(text, "t.cnn")
    assert [n.name for n in module.networks] == ["n"]  # the network is still read
    assert errors[0].message.startswith("unexpected 'network'")
    assert errors[0].notes[0][0].line == 3  # the '{' of `path {` looks unclosed


def test_the_network_is_built_up_to_the_unreadable_line():
    text = ("network n {\n  input 3x32x32\n  conv(16, 3, pad=1); relu\n  maxpool(2)\n"
            "  conv(32, 3 pad=1)\n  relu\n}\n")
    checked = check(text, "/tmp/partial.cnn")
    assert [d.span.line for d in checked.diagnostics] == [5]
    assert not checked.complete
    assert [n.op for n in checked.graph.nodes] == ["input", "conv", "relu", "maxpool"]


def _mutated(rng: random.Random, text: str) -> str:
    pieces = [*"(){},;=.\n #x-+*", "conv", "path", "add {", "block", "network", "->", "×"]
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(text) + 1)
        if rng.random() < 0.5:
            text = text[:i] + text[i + rng.randint(1, 5):]
        else:
            text = text[:i] + rng.choice(pieces) + text[i:]
    return text


@pytest.mark.parametrize("seed", range(4))
def test_recovery_agrees_with_the_strict_parser(seed):
    """On damaged zoo files: never a crash; a file that parses gives the same tree; a
    file that does not gives the strict parser's error first."""
    rng = random.Random(seed)
    for _ in range(60):
        text = _mutated(rng, rng.choice(SOURCES))
        module, errors = parse_recovering(text, "m.cnn")
        try:
            strict = parse_text(text, "m.cnn", all_errors=False)
        except SpecError as exc:
            # (an unclosed '{' at the end gets its line named: a longer message)
            assert errors and errors[0].span == exc.span
            assert errors[0].message.startswith(exc.message)
        else:
            assert errors == [] and _meaning(module) == _meaning(strict)


# a file without a network is a library to the editor, not an error; the editor has
# no command line (`# check: --set ...`)
ERRORS = sorted(p for p in (ROOT / "tests" / "errors").glob("*.cnn")
                if p.stem != "no_network" and not p.read_text().startswith("# check:"))


@pytest.mark.parametrize("spec", ERRORS, ids=[p.stem for p in ERRORS])
def test_the_editor_reports_what_cnndsl_check_reports(spec, monkeypatch):
    """The editor's check gives the CLI's diagnostics, word for word (it also keeps the
    warnings of the layers built before an error, which the CLI does not print)."""
    monkeypatch.chdir(ROOT)
    relative = spec.relative_to(ROOT).as_posix()
    golden = spec.with_suffix(".err").read_text()
    found = check(spec.read_text(), relative).diagnostics
    if ": error: " in golden:
        found = [d for d in found if d.severity == "error"]
    assert "".join(d.render() + "\n" for d in found) == golden


ZOO = sorted(ROOT.glob("specs/*.cnn"))


@pytest.mark.parametrize("spec", ZOO, ids=[p.stem for p in ZOO])
def test_the_editor_builds_the_network_cnndsl_builds(spec):
    import cnndsl
    from cnndsl.lsp.inlay import label, line_ends
    checked = check(spec.read_text(), str(spec))
    net = cnndsl.load(spec)
    assert checked.complete and checked.diagnostics == net.warnings
    assert [(n.op, n.shape, n.name) for n in checked.graph.nodes] == \
        [(n.op, n.shape, n.name) for n in net.graph.nodes]
    hints = [label(checked, a) for a in line_ends(checked.index.anchors(str(spec)))]
    assert hints and hints[-1] == f"-> {'x'.join(map(str, net.output_shape))}"


def test_functions_and_constants_in_the_editor(tmp_path):
    """Hover, go to definition and completion know `def` functions, top-level
    constants and the built-in functions."""
    from cnndsl.lsp.completion import context_at, items, signature
    from cnndsl.lsp.hover import describe_at
    from cnndsl.lsp.navigation import defined_at
    text = ("let WIDTHS = [16, 32]\n"
            "def half(v, floor = 8) { max(floor, v // 2) }\n"
            "network n {\n  input 3x32x32\n  conv(half(WIDTHS[1]), 3, pad=1)\n}\n")
    checked = check(text, str(tmp_path / "f.cnn"))
    assert checked.complete and checked.diagnostics == []
    hover, _ = describe_at(checked, checked, 5, 9)  # half(
    assert hover.startswith("**def** `half(v, floor=8)`")
    assert "max(a, b, ...)" in describe_at(checked, checked, 2, 27)[0]  # a built-in
    assert describe_at(checked, checked, 5, 15)[0] == "constant `let WIDTHS = [16, 32]`"
    definition = defined_at(checked, checked.occurrences.at(checked.path, 5, 15))
    assert (definition.line, definition.column) == (1, 5)
    definition = defined_at(checked, checked.occurrences.at(checked.path, 5, 9))
    assert (definition.line, definition.column) == (2, 5)
    before = text[:text.index("half(WIDTHS") + 5]
    labels = {i.label for i in items(checked, checked, context_at(before), 5, 12)}
    assert {"WIDTHS", "half", "max", "v=", "floor="} <= labels
    assert signature(checked, context_at(before)).signatures[0].label == "half(v, floor=8)"
