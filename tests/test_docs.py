"""The examples in docs/language.md are real: every fenced snippet checks."""

import re
from pathlib import Path

import pytest

import cnndsl
from cnndsl.elaborate.program import load_program

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "language.md").read_text()
SNIPPETS = [s for s in re.findall(r"```\n(.*?)```", DOC, re.S)
            if ("block " in s or "network " in s or "def " in s) and "..." not in s]


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[f"snippet{i}" for i in range(len(SNIPPETS))])
def test_language_doc_example_checks(snippet):
    path = str(ROOT / "specs" / "doc_example.cnn")  # imports resolve as from specs/
    if "network " in snippet:
        net = cnndsl.loads(snippet, path=path)
        assert net.warnings == []
    else:
        program = load_program(snippet, path)
        assert program.blocks or program.functions


def test_doc_has_examples():
    assert len(SNIPPETS) >= 10


def test_doc_lists_every_built_in_function():
    from cnndsl.elaborate.builtins import BUILTINS
    functions = DOC.split("## Functions", 1)[1].split("\n## ", 1)[0]
    assert [name for name in BUILTINS if f"`{name}(" not in functions] == []


@pytest.mark.parametrize("construct", ["pad_channels", "crop(like=", "defaults {", "def ",
                                       " in VALUES", "--list-params", "[2 * c for c in"])
def test_doc_shows_each_design_rule_construct(construct):
    """Each piece the family specs need is documented with an example that checks."""
    assert construct in DOC
    if construct not in (" in VALUES", "--list-params", "[2 * c for c in"):
        assert any(construct in s for s in SNIPPETS)


def test_every_layer_has_a_checked_example():
    """Each op (merges aside) is written in at least one of the snippets checked above."""
    from cnndsl.ops import OPS
    text = "\n".join(SNIPPETS)
    layers = [name for name, op in OPS.items() if op.arity == 1]
    assert [name for name in layers if not re.search(rf"\b{name}\b", text)] == []


README = (ROOT / "README.md").read_text()


def test_readme_spec_is_resnet34():
    """The spec README shows, written out, is the zoo's ResNet-34, parameter for parameter."""
    fences = re.findall(r"^```(\w*)\n(.*?)^```", README, re.M | re.S)
    (snippet,) = [body for lang, body in fences if not lang and re.search(r"^network ", body, re.M)]
    shown = cnndsl.loads(snippet, path=str(ROOT / "README.md"))
    zoo = cnndsl.load(ROOT / "specs" / "resnet34.cnn")
    assert shown.report()["total_params"] == zoo.report()["total_params"] == 21_797_672
    assert shown.report()["total_macs"] == zoo.report()["total_macs"]


README_COMMANDS = [line.split("#")[0].split() for line in re.findall(r"^cnndsl .*$", README, re.M)]


@pytest.mark.parametrize("argv", README_COMMANDS, ids=[" ".join(a[:3]) for a in README_COMMANDS])
def test_readme_command_lines_parse(argv):
    """Every command line in README's quick start is one the CLI accepts, on a spec that exists."""
    from cnndsl.cli import build_parser, discover
    args = build_parser(discover()).parse_args(argv[1:])
    specs = getattr(args, "specs", None) or [getattr(args, "spec", None)]
    for spec in filter(None, specs):  # (`cnndsl lsp` takes none; `cnndsl fmt` globs)
        assert any(ROOT.glob(spec)), spec


def test_readme_documents_every_command():
    from cnndsl.cli import discover
    used = {argv[1] for argv in README_COMMANDS}
    assert used == set(discover())
