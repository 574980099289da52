"""The limits that keep hostile or mistaken input from costing unbounded time or
memory, each checked before the work it bounds is done (docs/limits.md lists
them with their defaults).

Every limit can be raised with an environment variable, CNNDSL_MAX_<NAME>
(e.g. CNNDSL_MAX_SPEC_BYTES=4194304); the two that bound what build, train,
time and eval allocate (parameters, activation memory) are also lifted by
those commands' --allow-large.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cnndsl.errors import Span, SpecError

DOCS = "docs/limits.md"


@dataclass(frozen=True)
class Limit:
    name: str  # also the environment variable: CNNDSL_MAX_<NAME>
    default: int
    what: str  # how the amount is said: "the spec and the libraries it imports take"
    unit: str = ""  # "bytes", "layers" ...
    allow_large: bool = False  # lifted by --allow-large

    @property
    def env(self) -> str:
        return f"CNNDSL_MAX_{self.name.upper()}"

    def value(self) -> int:
        """The limit in force: the environment variable's, else the default."""
        text = os.environ.get(self.env)
        if text is None or not text.strip():
            return self.default
        try:
            value = int(text.strip().replace("_", ""))
        except ValueError:
            value = 0
        if value < 1:
            raise SpecError(f"{self.env} must be a whole number above 0, got {text!r}",
                            hint=f"see {DOCS}")
        return value

    def check(self, amount: int, span: Span | None = None, allow_large: bool = False,
              detail: str = "") -> None:
        """SpecError, with the number and how to raise it, if `amount` exceeds the limit."""
        if allow_large and self.allow_large:
            return
        limit = self.value()
        if amount > limit:
            raise SpecError(self.message(amount, detail), span, hint=self.hint())

    def message(self, amount: int, detail: str = "") -> str:
        return (f"{self.what} {_count(amount, self.unit)}{detail}, over the limit of "
                f"{_count(self.value(), self.unit)}")

    def hint(self) -> str:
        raise_it = (f"pass --allow-large, or set {self.env}" if self.allow_large
                    else f"set {self.env}")
        return f"{raise_it} to raise it ({DOCS})"


def _count(n: int, unit: str) -> str:
    if unit == "bytes":
        for size, name in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
            if n >= size:
                return f"{n:,} bytes ({n / size:,.1f} {name})"
    return f"{n:,} {unit}".rstrip()


SPEC_BYTES = Limit("spec_bytes", 1 << 20, "the spec and the libraries it imports take",
                   "bytes")
STATEMENT_TOKENS = Limit("statement_tokens", 10_000, "this statement runs to", "tokens")
LAYERS = Limit("layers", 100_000, "the network elaborates to", "layers")
STEPS = Limit("steps", 1_000_000, "elaboration runs", "statements")
COMPREHENSION_ITEMS = Limit("comprehension_items", 1_000_000, "the spec's comprehensions compute",
                            "values")
PARAMS = Limit("params", 1_000_000_000, "the network has", "parameters", allow_large=True)
ACTIVATION_BYTES = Limit("activation_bytes", 32 << 30, "the activations (float32) take",
                         "bytes", allow_large=True)
DATA_FILE_BYTES = Limit("data_file_bytes", 4 << 30, "the data file holds", "bytes")
IMAGE_PIXELS = Limit("image_pixels", 89_478_485, "the image has", "pixels")
SYNTHETIC_SAMPLES = Limit("synthetic_samples", 10_000_000, "--data synthetic:N asks for",
                          "samples")

ALL = (SPEC_BYTES, STATEMENT_TOKENS, LAYERS, STEPS, COMPREHENSION_ITEMS, PARAMS, ACTIVATION_BYTES, DATA_FILE_BYTES,
       IMAGE_PIXELS, SYNTHETIC_SAMPLES)

