"""`cnndsl fmt SPEC...`: rewrite .cnn files in their canonical layout (cnndsl.syntax.format)."""

from __future__ import annotations

import difflib
import sys

from cnndsl.errors import SpecError

HELP = "format .cnn files: indentation, spacing, comments and blank lines (in place)"
ORDER = 70


def configure(parser) -> None:
    parser.add_argument("specs", nargs="+", metavar="SPEC",
                        help=".cnn files to format; '-' reads standard input and writes "
                             "the result to standard output")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if a file is not formatted")
    parser.add_argument("--diff", action="store_true",
                        help="change nothing; print what formatting would change")


def run(args) -> int:
    from cnndsl.elaborate.program import read_spec, spec_name
    from cnndsl.files import write_atomic
    from cnndsl.syntax.format import format_text
    changed, failed, unchanged = [], 0, 0
    for spec in args.specs:
        try:
            text = read_spec(spec)  # ("-" is standard input)
            formatted = format_text(text, spec_name(spec))
        except SpecError as exc:
            print(exc, file=sys.stderr)
            failed += 1
            continue
        if spec == "-" and not (args.check or args.diff):
            sys.stdout.write(formatted)
            continue
        if formatted == text:
            unchanged += 1
            continue
        changed.append(spec)
        if args.diff:
            sys.stdout.writelines(difflib.unified_diff(
                text.splitlines(keepends=True), formatted.splitlines(keepends=True),
                f"{spec} (original)", f"{spec} (formatted)"))
        if args.check or args.diff:
            print(f"would reformat {spec}", file=sys.stderr)
        else:  # atomically: an interrupted run leaves the spec as it was
            write_atomic(spec, formatted)
            print(f"reformatted {spec}", file=sys.stderr)
    _summary(len(changed), unchanged, failed, dry=args.check or args.diff)
    return 1 if failed or (args.check and changed) else 0


def _summary(changed: int, unchanged: int, failed: int, dry: bool) -> None:
    def files(n: int) -> str:
        return f"{n} file{'s' * (n != 1)}"
    parts = []
    if changed:
        parts.append(f"{files(changed)} {'would be ' if dry else ''}reformatted")
    if unchanged:
        parts.append(f"{files(unchanged)} {'would be ' if dry else ''}left unchanged")
    if failed:
        parts.append(f"{files(failed)} could not be read")
    if parts:
        print(", ".join(parts) + ".", file=sys.stderr)
