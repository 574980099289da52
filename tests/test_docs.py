"""The examples in docs/language.md are real: every fenced snippet checks."""

import re
from pathlib import Path

import pytest

import cnndsl
from cnndsl.elaborate.program import load_program

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "language.md").read_text()
SNIPPETS = [s for s in re.findall(r"```\n(.*?)```", DOC, re.S)
            if ("block " in s or "network " in s) and "..." not in s]


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[f"snippet{i}" for i in range(len(SNIPPETS))])
def test_language_doc_example_checks(snippet):
    path = str(ROOT / "specs" / "doc_example.cnn")  # imports resolve as from specs/
    if "network " in snippet:
        net = cnndsl.loads(snippet, path=path)
        assert net.warnings == []
    else:
        assert load_program(snippet, path).blocks


def test_doc_has_examples():
    assert len(SNIPPETS) >= 10
