"""Every bad spec in tests/errors/ gives exactly the diagnostic in its .err file.

Regenerate the .err files after an intended wording change with
`pytest tests/test_diagnostics.py --update-golden`, then review the diff.  A bad
spec whose first line is `# check: ARGS` is checked with those arguments
(e.g. `# check: --set depth=57` for a value outside a parameter's list).
"""

import re
from pathlib import Path

import pytest

import cnndsl
from cnndsl.cli import main
from cnndsl.commands._spec import parse_overrides

ROOT = Path(__file__).resolve().parent.parent
ERRORS = sorted((ROOT / "tests" / "errors").glob("*.cnn"))


def check_args(spec: Path) -> list[str]:
    first = spec.read_text().partition("\n")[0]
    return first.removeprefix("# check:").split() if first.startswith("# check:") else []


@pytest.mark.parametrize("spec", ERRORS, ids=[p.stem for p in ERRORS])
def test_diagnostic_matches_golden(spec, capsys, monkeypatch, update_golden):
    monkeypatch.chdir(ROOT)
    relative = spec.relative_to(ROOT).as_posix()
    code = main(["check", "-q", relative, *check_args(spec)])
    captured = capsys.readouterr()
    golden = spec.with_suffix(".err")
    if update_golden:
        golden.write_text(captured.err)
    expected = golden.read_text()
    assert captured.err == expected
    assert code == (1 if ": error: " in expected else 0)
    assert "Traceback" not in captured.err
    first = expected.splitlines()[0]
    assert re.match(r"\S+\.cnn:\d+:\d+: (error|warning): ", first), "names file:line:col"
    # an error deep in a library names the library's line first, then the spec's
    # call in a note: either way the spec itself is named
    assert first.startswith(f"{relative}:") or f"\n{relative}:" in expected


@pytest.mark.parametrize("spec", ERRORS, ids=[p.stem for p in ERRORS])
def test_api_reports_the_same_location(spec, monkeypatch):
    """The Python API raises SpecError (or returns warnings) with the CLI's location."""
    monkeypatch.chdir(ROOT)
    relative = spec.relative_to(ROOT).as_posix()
    expected_first = spec.with_suffix(".err").read_text().splitlines()[0]
    params = parse_overrides(check_args(spec)[1::2]) or None  # the values of --set NAME=VALUE
    if ": error: " in expected_first:
        with pytest.raises(cnndsl.SpecError) as info:
            cnndsl.load(relative, params=params)
        assert str(info.value).startswith(f"{info.value.span}: error: ")
        assert str(info.value).splitlines()[0] == expected_first
    else:
        net = cnndsl.load(relative, params=params)
        assert net.warnings[0].render().splitlines()[0] == expected_first


def test_every_error_spec_has_a_golden_file():
    missing = [p.name for p in ERRORS if not p.with_suffix(".err").exists()]
    assert not missing


def test_issue_diagnostics_are_all_covered():
    # The diagnostics issue #2 asks for, each with its own bad spec.
    required = {"unexpected_token", "unknown_layer", "unknown_block", "unknown_name",
                "too_many_arguments", "unknown_keyword", "missing_argument",
                "add_shape_mismatch", "concat_spatial_mismatch", "spatial_size_zero",
                "kernel_too_large", "groups_not_dividing", "fc_unflattened", "repeat_zero",
                "recursive_block", "absurd_repeat", "stride_drops_pixels"}
    assert required <= {p.stem for p in ERRORS}


def test_call_chains_and_unclosed_braces_are_golden():
    """Issue 14: a problem inside a block names every call on the way to it (innermost
    first, ending at the spec's own line); a missing '}' names the '{' it leaves open."""
    golden = {p.stem: p.with_suffix(".err").read_text() for p in ERRORS}
    chain = golden["library_call_chain"].splitlines()
    assert chain[0].startswith("specs/lib/densenet.cnn:11:")
    notes = [line for line in chain if ": note: " in line]
    assert notes == [
        "specs/lib/densenet.cnn:16:14: note: in denselayer(growth=0) called here",
        "tests/errors/library_call_chain.cnn:8:3: note: in denseblock(n=2, growth=0) called here"]
    shape = golden["library_shape_chain"].splitlines()
    assert shape[0].startswith("specs/lib/vgg.cnn:12:3: error: spatial size reaches 0x0")
    assert "tests/errors/library_shape_chain.cnn:11:3: note: in vgg_stage(n=3, c=512) called here" \
        in shape
    assert "in smooth(c=8) called here (and 2 more calls)" in golden["warning_call_chain"]
    assert "the '{' on line 1 is never closed" in golden["unclosed_brace"]
    assert "unclosed_brace.cnn:1:13: note: this '{' is never closed" in golden["unclosed_brace"]
    assert "unclosed_inner_brace.cnn:5:10: note: this '{' may be missing" in \
        golden["unclosed_inner_brace"]
    assert golden["several_syntax_errors"].count(": error: ") == 3


DEEP = {
    "nested paths": "network n {\n input 3x8x8\n" + "add { identity; path { " * 200 + "relu"
                    + " } }" * 200 + "\n}\n",
    "unary minus": "network n {\n input 3x8x8\n conv(" + "-" * 5000 + "1, 1)\n}\n",
    "powers": "network n {\n input 3x8x8\n conv(" + "2 ** " * 3000 + "1, 1)\n}\n",
    "parentheses": "network n {\n input 3x8x8\n conv(" + "(" * 3000 + "1" + ")" * 3000 + ", 1)\n}\n",
}


@pytest.mark.parametrize("case", sorted(DEEP))
def test_absurd_nesting_is_an_error_not_a_crash(case, capsys, tmp_path):
    spec = tmp_path / "deep.cnn"
    spec.write_text(DEEP[case])
    assert main(["check", "-q", str(spec)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{spec}:") and "too deeply" in err and "internal error" not in err


def test_braces_may_open_on_their_own_line_and_a_bom_is_ignored(tmp_path):
    spec = tmp_path / "allman.cnn"
    spec.write_text("\ufeffblock b(c)\n{\n  conv(c, 3, pad=1)\n}\nnetwork n\n{\n  input 3x8x8\n"
                    "  repeat 2\n  {\n    b(4)\n  }\n  if true\n  {\n    relu\n  }\n  else\n"
                    "  {\n    tanh\n  }\n}\n", encoding="utf-8")
    net = cnndsl.load(spec)
    assert [n.op for n in net.graph.layers()] == ["conv", "conv", "relu"]
