"""What every command that reads a spec shares: the SPEC argument, --input and
--set, and loading the spec with its warnings printed to stderr.  (A module
whose name starts with "_" is not a command; cli.discover skips it.)"""

from __future__ import annotations

import sys

from cnndsl.errors import SpecError


def add_spec_arguments(parser, spec_help: str = "the .cnn file", stdin: bool = True,
                       allocates: bool = False) -> None:
    """SPEC, --input and --set; `allocates`: the command builds the network in
    memory, so it takes --allow-large (docs/limits.md)."""
    parser.add_argument("spec", help=spec_help + (" ('-' reads it from standard input)"
                                                  if stdin else ""))
    parser.add_argument("--input", help="override the spec's input size, e.g. 3x32x32")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a network parameter, e.g. --set classes=10")
    if allocates:
        add_allow_large(parser)


def add_allow_large(parser) -> None:
    parser.add_argument("--allow-large", action="store_true", default=None,
                        help="allocate networks beyond the parameter and activation-memory "
                             "limits (docs/limits.md)")


def load_spec(args, input=None, params: dict | None = None, batch: int = 0,
              warn_large: bool = True):
    """The Network that args.spec, args.input and args.set describe (`input` and
    `params` fill in what they leave out); its warnings go to stderr, its errors
    raise SpecError.  A command that allocates the network (it has
    args.allow_large) refuses one beyond the limits, counted for `batch`
    samples; any other warns (unless not `warn_large`)."""
    from cnndsl.analysis.allocation import allocation_problems, check_allocation
    from cnndsl.errors import Diagnostic
    from cnndsl.network import load
    net = load(args.spec, input=args.input if args.input is not None else input,
               params={**(params or {}), **parse_overrides(args.set)} or None)
    for warning in net.warnings:
        print(warning.render(), file=sys.stderr)
    if hasattr(args, "allow_large"):
        check_allocation(net.graph, batch, bool(args.allow_large))
    elif warn_large:
        for message, span, hint in allocation_problems(net.graph):
            print(Diagnostic("warning", message + "; build, train and time refuse it", span,
                             hint.replace("pass --allow-large", "give them --allow-large"))
                  .render(), file=sys.stderr)
    return net


def parse_overrides(items: list[str]) -> dict[str, object]:
    """--set NAME=VALUE pairs as network parameters: true/false, numbers, else text
    (quotes optional: --set act=leaky and --set 'act="leaky"' are the same)."""
    result: dict[str, object] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.isidentifier():
            raise SpecError(f"--set expects NAME=VALUE, got {item!r}")
        result[name] = _literal(value)
    return result


def _literal(text: str):
    """true/false, an int, a float, else a string ("leaky" and leaky alike)."""
    stripped = text.strip()
    if len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in "\"'":
        return stripped[1:-1]
    lowered = stripped.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text

