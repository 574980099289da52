"""Command line: `cnndsl COMMAND ...`.

Each command is a module in cnndsl/commands/ with HELP, ORDER, configure(parser)
and run(args) -> exit code; adding a command means adding one module.  Command
modules import heavy libraries (torch, onnx) inside run(), never at the top, so
`cnndsl check` stays fast."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from cnndsl import __version__
from cnndsl.errors import SpecError
from cnndsl.escape import terminal

import cnndsl.commands


def discover() -> dict[str, object]:
    """Command name -> module, in each module's ORDER."""
    modules = {}
    for info in pkgutil.iter_modules(cnndsl.commands.__path__):
        if not info.name.startswith("_"):
            modules[info.name] = importlib.import_module(f"cnndsl.commands.{info.name}")
    return dict(sorted(modules.items(), key=lambda item: (getattr(item[1], "ORDER", 99), item[0])))


def build_parser(commands: dict[str, object]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnndsl", description="Compile convolutional network specs (.cnn files).")
    parser.add_argument("--version", action="version", version=f"cnndsl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in commands.items():
        module.configure(sub.add_parser(name, help=module.HELP, description=module.HELP))
    return parser


def main(argv: list[str] | None = None) -> int:
    commands = discover()
    args = build_parser(commands).parse_args(argv)
    try:
        return commands[args.command].run(args)
    except SpecError as exc:
        print(exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("cnndsl: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug in cnndsl: say so plainly, without a traceback
        print(f"cnndsl: internal error: {type(exc).__name__}: {terminal(exc)}\n"
              f"  this is a bug in cnndsl {__version__}; please report it with the spec",
              file=sys.stderr)
        return 2
