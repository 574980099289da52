"""Every bad spec in tests/errors/ gives exactly the diagnostic in its .err file.

Regenerate the .err files after an intended wording change with
`pytest tests/test_diagnostics.py --update-golden`, then review the diff.  A bad
spec whose first line is `# check: ARGS` is checked with those arguments
(e.g. `# check: --set depth=57` for a value outside a parameter's list).
"""

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
    assert first.startswith(f"{relative}:"), "every diagnostic names file:line:col"


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
        line, column = info.value.span.line, info.value.span.column
        assert str(info.value).startswith(f"{relative}:{line}:{column}: error: ")
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
