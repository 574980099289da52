"""The editor files: the TextMate grammar highlights every keyword of grammar/cnn.lark
and every layer of the op registry (a new keyword or op must be added to it), and
the VS Code extension's files are valid and agree with each other."""

import json
import re
from pathlib import Path

from cnndsl.ops.registry import all_names
from cnndsl.syntax.parser import _parser

ROOT = Path(__file__).resolve().parent.parent
VSCODE = ROOT / "editors" / "vscode"
GRAMMAR = json.loads((VSCODE / "syntaxes" / "cnn.tmLanguage.json").read_text())
WORDS = re.compile(r"\\b\(\?:((?:[A-Za-z_0-9]+\|)*[A-Za-z_0-9]+)\)\\b")


def highlighted(*entries: str) -> set[str]:
    """The words that the named repository entries' `\\b(?:a|b|c)\\b` patterns list."""
    words = set()
    for entry in entries:
        pattern = GRAMMAR["repository"][entry]["match"]
        for group in WORDS.findall(pattern):
            words |= set(group.split("|"))
    return words


def grammar_keywords() -> set[str]:
    """Every word grammar/cnn.lark reserves: string literals ("repeat"), keyword
    terminals (AND: "and") and word alternations in terminals (MERGE: add|concat|mul)."""
    words = set()
    for terminal in _parser().terminals:
        pattern = terminal.pattern
        if pattern.type == "str" and pattern.value.isidentifier():
            words.add(pattern.value)
        elif pattern.type == "re":
            for group in re.findall(r"\(((?:[a-z_]+\|)+[a-z_]+)\)", pattern.value):
                words |= set(group.split("|"))
    return words


KEYWORD_ENTRIES = ("keyword", "logical", "merge", "constant")


def test_every_keyword_of_the_grammar_is_highlighted():
    keywords = grammar_keywords()
    assert {"repeat", "block", "network", "add", "and", "true"} <= keywords  # the probe works
    missing = keywords - highlighted(*KEYWORD_ENTRIES)
    assert not missing, (f"add {sorted(missing)} to editors/vscode/syntaxes/cnn.tmLanguage.json "
                         "(repository: keyword, logical, merge or constant)")


def test_every_op_is_highlighted_and_no_other():
    ops = set(all_names())
    layers = highlighted("layer")
    missing = ops - layers - highlighted(*KEYWORD_ENTRIES)
    assert not missing, (f"add {sorted(missing)} to the `layer` pattern of "
                         "editors/vscode/syntaxes/cnn.tmLanguage.json")
    assert layers <= ops, f"not ops any more: {sorted(layers - ops)}"


def test_the_grammar_patterns_compile_and_match():
    """Each pattern is a valid regular expression that matches what it is meant for
    (Python's re reads these TextMate/Oniguruma patterns the same way)."""
    samples = {"comment": "# hi", "string": '"lib/resnet.cnn"', "definition": "block basic",
               "keyword": "repeat", "merge": "concat", "constant": "identity",
               "layer": "maxpool", "bind": "-> stem", "call": "basic(", "logical": "not",
               "input-attribute": "in.channels"}
    for entry, sample in samples.items():
        assert re.search(GRAMMAR["repository"][entry]["match"], sample), entry
    included = {p["include"].lstrip("#") for p in GRAMMAR["patterns"]}
    assert included == set(GRAMMAR["repository"])


def test_the_extension_files_agree():
    package = json.loads((VSCODE / "package.json").read_text())
    json.loads((VSCODE / "language-configuration.json").read_text())
    [language] = package["contributes"]["languages"]
    [grammar] = package["contributes"]["grammars"]
    assert language["extensions"] == [".cnn"] and grammar["scopeName"] == GRAMMAR["scopeName"]
    assert (VSCODE / grammar["path"]).is_file() and (VSCODE / package["main"]).is_file()
    commands = {c["command"] for c in package["contributes"]["commands"]}
    assert "cnndsl.toggleInlayHints" in commands  # the server's command (cnndsl/lsp/documents.py)
    assert "node_modules" in (VSCODE / ".gitignore").read_text()
