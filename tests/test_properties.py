"""Property test: any mutation of a valid spec either loads or raises SpecError
with a location — never another exception, never a hang."""

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cnndsl

ROOT = Path(__file__).resolve().parent.parent
SEEDS = [
    (ROOT / "specs" / "resnet34.cnn").read_text(),
    """block inception(c1, c3r, c3, pp) {
  concat {
    path { conv(c1, 1); relu }
    path { conv(c3r, 1); relu; conv(c3, 3, pad=1); relu }
    path { maxpool(3, stride=1, pad=1); conv(pp, 1); relu }
  }
}
network tiny(classes = 10) {
  input 3x32x32
  conv(16, 3, pad=1) -> stem
  repeat 2 as i { inception(8 * (i + 1), 4, 8, 4) }
  let k = 2 ** 2
  if k > 3 { maxpool(2) } else { avgpool(2) }
  concat { identity; path from stem { maxpool(2) } }
  avgpool(global); flatten; dropout(0.5); fc(classes); softmax
}
""",
]
TOKENS = ["{", "}", "(", ")", ";", "\n", ",", "=", "->", "x", "0", "1", "3", "-1", "**", "/",
          "repeat", "add", "concat", "path", "if", "else", "from", "in.channels", "identity",
          "conv", "fc", "flatten", "global", "same", "input", "block", "network", "import",
          "\"lib.cnn\"", "1000000000", "let", "as", "not", "and", "3x224x224", "#", "×", "\t"]


@st.composite
def mutated_spec(draw):
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        j = min(len(text), i + draw(st.integers(0, 12)))
        kind = draw(st.sampled_from(["delete", "insert", "replace", "duplicate"]))
        piece = draw(st.one_of(st.sampled_from(TOKENS), st.text(max_size=3)))
        if kind == "delete":
            text = text[:i] + text[j:]
        elif kind == "insert":
            text = text[:i] + piece + text[i:]
        elif kind == "replace":
            text = text[:i] + piece + text[j:]
        else:
            text = text[:j] + text[i:j] + text[j:]
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_spec())
def test_mutated_specs_load_or_fail_with_a_location(text):
    try:
        net = cnndsl.loads(text, path="mutant.cnn")
    except cnndsl.SpecError as exc:
        assert exc.span is not None and exc.span.path == "mutant.cnn"
        assert str(exc).startswith(f"mutant.cnn:{exc.span.line}:{exc.span.column}: error: ")
        return
    assert net.report()["layers"] is not None
