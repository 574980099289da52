"""`cnndsl check SPEC`: shapes, parameters, MACs and receptive fields, per layer."""

from __future__ import annotations

import json

from cnndsl.commands._spec import add_spec_arguments, load_spec
from cnndsl.errors import SpecError

HELP = "check a spec and print its per-layer shape/parameter/MAC report"
ORDER = 10

FORMATS = ("table", "json", "markdown")


def configure(parser) -> None:
    add_spec_arguments(parser)
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="print only diagnostics; the exit code says whether the spec is valid")
    parser.add_argument("--connections", action="store_true",
                        help="add a 'Connected to' column naming each layer's inputs "
                             "(branches, merges, named skips); with --format table")
    parser.add_argument("--list-params", action="store_true",
                        help="list the network's parameters (what --set can change), their "
                             "defaults and the values each allows, instead of the report")


def run(args) -> int:
    if args.connections and args.format != "table":
        raise SpecError("--connections adds a column to the table: use it with --format table")
    if args.list_params:
        return _list_params(args)
    net = load_spec(args)
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


def _list_params(args) -> int:
    from cnndsl.elaborate.values import describe
    from cnndsl.network import parameters
    if args.set or args.input:
        raise SpecError("--list-params lists the defaults: leave out --set and --input")
    found = parameters(args.spec)
    if args.format == "json":
        print(json.dumps(found, indent=1))
        return 0
    rows = [(p["name"], describe(p["default"]),
             "any" if p["choices"] is None else ", ".join(describe(c) for c in p["choices"]))
            for p in found["params"]]
    if args.format == "markdown":
        print(f"### {found['network']} parameters\n\n| parameter | default | values |\n"
              "|---|---|---|")
        print("\n".join("| " + " | ".join(c.replace("|", "\\|") for c in (f"`{n}`", f"`{d}`", v))
                        + " |" for n, d, v in rows))
        return 0
    print(f"{found['network']} ({found['path']}): parameters for --set NAME=VALUE")
    if not rows:
        print("  (none)")
    width = max((len(n) for n, _, _ in rows), default=0)
    dwidth = max((len(d) for _, d, _ in rows), default=0)
    for name, default, values in rows:
        print(f"  {name.ljust(width)} = {default.ljust(dwidth)}   "
              f"{'any value' if values == 'any' else 'one of ' + values}")
    return 0
