"""`cnndsl check SPEC`: shapes, parameters, MACs and receptive fields, per layer."""

from __future__ import annotations

from cnndsl.commands._spec import add_spec_arguments, load_spec
from cnndsl.errors import SpecError
from cnndsl.escape import json_text

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
                             "(branches, merges, named skips); the JSON report always has them")
    parser.add_argument("--depth", type=int, metavar="N",
                        help="collapse layers below depth N (dotted name parts) into one row "
                             "per block, with subtotals, like torchinfo's depth")
    parser.add_argument("--batch", type=int, default=1, metavar="N",
                        help="batch size for the MAC total and the size estimate (default 1)")
    parser.add_argument("--list-params", action="store_true",
                        help="list the network's parameters (what --set can change), their "
                             "defaults and the values each allows, instead of the report")


def run(args) -> int:
    if args.connections and args.format == "markdown":
        raise SpecError("--connections adds a column to the table: use it with --format table "
                        "or json")
    if args.connections and args.depth is not None and args.format == "table":
        raise SpecError("--connections names each layer's inputs: leave out --depth")
    if args.depth is not None and args.depth < 1:
        raise SpecError(f"--depth must be at least 1, got {args.depth}")
    if args.batch < 1:
        raise SpecError(f"--batch must be at least 1, got {args.batch}")
    if args.list_params:
        return _list_params(args)
    net = load_spec(args)
    if args.quiet:
        return 0
    if args.format == "json":
        print(json_text(net.report(args.batch, args.depth)))
    elif args.connections and args.format == "table":
        from cnndsl.report.connections import render_connections_table
        print(render_connections_table(net.analysis, args.batch))
    else:
        from cnndsl.report.table import render_markdown, render_table
        render = render_table if args.format == "table" else render_markdown
        print(render(net.analysis, depth=args.depth, batch=args.batch))
    return 0


def _list_params(args) -> int:
    from cnndsl.network import parameters
    from cnndsl.report.params import render_params, render_params_markdown
    if args.set or args.input:
        raise SpecError("--list-params lists the defaults: leave out --set and --input")
    found = parameters(args.spec)
    print(json_text(found) if args.format == "json" else
          render_params_markdown(found) if args.format == "markdown" else render_params(found))
    return 0
