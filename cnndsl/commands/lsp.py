"""`cnndsl lsp`: the language server for editors, over stdin and stdout."""

from __future__ import annotations

HELP = "run the language server (diagnostics, shapes, completion) for an editor, over stdio"
ORDER = 80


def configure(parser) -> None:
    parser.add_argument("--stdio", action="store_true",
                        help="talk over stdin/stdout (the default and only transport; "
                             "accepted because editors pass it)")


def run(args) -> int:
    from cnndsl.errors import SpecError
    try:
        from cnndsl.lsp.server import main
    except ImportError as exc:
        raise SpecError(f"cnndsl lsp needs the pygls package ({exc})",
                        hint="pip install 'pygls>=2'") from None
    main()
    return 0
