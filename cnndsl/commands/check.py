"""`cnndsl check SPEC`: shapes, parameters, MACs and receptive fields, per layer."""

from __future__ import annotations

import json
import sys

from cnndsl.network import load

HELP = "check a spec and print its per-layer shape/parameter/MAC report"
ORDER = 10

FORMATS = ("table", "json", "markdown")


def configure(parser) -> None:
    parser.add_argument("spec", help="the .cnn file")
    parser.add_argument("--input", help="override the input size, e.g. 3x32x32")
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a network parameter, e.g. --set classes=10")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="print only diagnostics; the exit code says whether the spec is valid")
    parser.add_argument("--connections", action="store_true",
                        help="add a 'Connected to' column naming each layer's inputs "
                             "(branches, merges, named skips); with --format table")


def parse_overrides(items: list[str]) -> dict[str, object]:
    from cnndsl.errors import SpecError
    result: dict[str, object] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.isidentifier():
            raise SpecError(f"--set expects NAME=VALUE, got {item!r}")
        result[name] = _literal(value)
    return result


def _literal(text: str):
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def run(args) -> int:
    net = load(args.spec, input=args.input, params=parse_overrides(args.set))
    for warning in net.warnings:
        print(warning.render(), file=sys.stderr)
    if args.quiet:
        return 0
    if args.format == "json":
        print(json.dumps(net.report(), indent=1))
    elif args.connections and args.format == "table":
        from cnndsl.report.connections import render_connections_table
        print(render_connections_table(net.analysis))
    else:
        from cnndsl.report.table import render_markdown, render_table
        print(render_table(net.analysis) if args.format == "table"
              else render_markdown(net.analysis))
    return 0
