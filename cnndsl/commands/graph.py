"""`cnndsl graph SPEC -o net.svg`: an architecture diagram drawn from the IR."""

from __future__ import annotations

import sys

from cnndsl.commands._spec import add_spec_arguments, load_spec
from cnndsl.escape import terminal

HELP = "draw a spec's architecture diagram (.svg/.png/.pdf via Graphviz, .dot, or Mermaid .md)"
ORDER = 50

# exit status when Graphviz is missing: the .dot was written, the picture was not
EXIT_NO_GRAPHVIZ = 3


def _depth(text: str) -> int:
    import argparse
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("depth must be 1 or more (leave it out for every layer)")
    return value


def configure(parser) -> None:
    add_spec_arguments(parser)
    parser.add_argument("-o", "--output", required=True, metavar="FILE",
                        help="net.svg, net.png or net.pdf (rendered by Graphviz), "
                             "net.dot (Graphviz source), net.md (Mermaid in a Markdown fence) "
                             "or net.mmd (bare Mermaid)")
    parser.add_argument("--depth", type=_depth, metavar="N",
                        help="collapse block calls nested N deep into one box each "
                             "(1: one box per top-level block call); default: every layer")


def run(args) -> int:
    from cnndsl.backends.graph import (INSTALL_HINT, RENDERED, diagram_format, drawn_by_cnndsl,
                                       fallback_path, find_dot, write_diagram)
    try:
        diagram_format(args.output)
    except ValueError as exc:
        print(f"cnndsl graph: {terminal(exc)}", file=sys.stderr)
        return 1
    from cnndsl.files import Outputs
    net = load_spec(args, warn_large=False)
    outputs = Outputs.for_network(net)
    outputs.target(args.output)  # refused before any work: the spec, a library, a folder
    if diagram_format(args.output) in RENDERED and find_dot() is None:
        outputs.target(fallback_path(args.output), named=False, owned=drawn_by_cnndsl)
    try:
        written = write_diagram(net.graph, args.output, args.depth, outputs)
    except (OSError, RuntimeError) as exc:
        print(f"cnndsl graph: {terminal(exc)}", file=sys.stderr)
        return 1
    if not written.rendered:
        print(terminal(f"cnndsl graph: Graphviz `dot` is not on PATH, so wrote {written.path} "
                       f"instead of {args.output}; {INSTALL_HINT}, then run "
                       f"`dot -T{diagram_format(args.output)} {written.path} -o {args.output}`"),
              file=sys.stderr)
        return EXIT_NO_GRAPHVIZ
    for note in written.notes:
        print(f"cnndsl graph: note: {terminal(note)}", file=sys.stderr)
    print(f"wrote {terminal(written.path)}")
    return 0
