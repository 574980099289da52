"""Gather a spec and the block libraries it imports into one Program."""

from __future__ import annotations

import errno
import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path

from cnndsl.elaborate.builtins import BUILTINS
from cnndsl.errors import Span, SpecError
from cnndsl.limits import SPEC_BYTES
from cnndsl.ops import lookup
from cnndsl.syntax import ast, parse_text


@dataclass
class Program:
    path: str
    blocks: dict[str, ast.BlockDef] = field(default_factory=dict)
    networks: list[ast.NetworkDef] = field(default_factory=list)
    functions: dict[str, ast.FuncDef] = field(default_factory=dict)
    constants: list[ast.Let] = field(default_factory=list)  # top-level lets, imports first
    files: list[str] = field(default_factory=list)  # the spec and every library it imports
    bytes: int = 0  # read so far, the spec's and its libraries': SPEC_BYTES bounds them


STDIN = "-"  # as a spec path: read the spec from standard input
STDIN_NAME = "<stdin>"  # how diagnostics name it
_stdin_text: list[str] = []  # read once: a command may load the spec twice


def spec_name(path: str | Path) -> str:
    """How diagnostics name the spec at `path` (standard input is <stdin>)."""
    return STDIN_NAME if str(path) == STDIN else str(path)


def read_spec(path: str | Path, budget: int | None = None) -> str:
    """The text of the spec at `path` ("-": standard input), at most `budget`
    bytes (default: the spec size limit), decoded as UTF-8.  SpecError for a
    missing, unreadable, oversized or undecodable file: the size is checked
    before the file is read, and nothing of a file that is not text is quoted."""
    budget = SPEC_BYTES.value() if budget is None else budget
    if str(path) == STDIN:
        if not _stdin_text:
            _stdin_text.append(_decode(_read_bounded(sys.stdin.buffer, budget, STDIN_NAME),
                                       STDIN_NAME))
        return _stdin_text[0]
    try:
        size = os.stat(path).st_size
        if size > budget:
            _too_big(path, SPEC_BYTES.value() - budget + size)
        with open(path, "rb") as handle:
            data = _read_bounded(handle, budget, path)
    except FileNotFoundError:
        raise SpecError(f"no such spec file: {path}") from None
    except IsADirectoryError:
        raise SpecError(f"{path} is a directory, not a .cnn spec") from None
    except OSError as exc:
        raise SpecError(f"cannot read {path}: {exc.strerror}") from None
    return _decode(data, str(path))


def _read_bounded(handle, budget: int, path) -> bytes:
    """Up to `budget` bytes; SpecError if there are more (a pipe has no size to stat)."""
    data = handle.read(budget + 1)
    if len(data) > budget:
        _too_big(path, SPEC_BYTES.value() + 1, " or more")
    return data


def _too_big(path, amount: int, detail: str = "") -> None:
    raise SpecError(f"{spec_name(path)} is too large for a spec: "
                    f"{SPEC_BYTES.message(amount, detail)}", hint=SPEC_BYTES.hint())


def _decode(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # where the bad byte is, as a person counts: line and column (characters)
        line = data.count(b"\n", 0, exc.start) + 1
        start = data.rfind(b"\n", 0, exc.start) + 1
        column = len(data[start:exc.start].decode("utf-8", "replace")) + 1
        reason = "cannot start a character" if exc.reason == "invalid start byte" else exc.reason
        raise SpecError(f"{path} is not UTF-8 text: byte 0x{data[exc.start]:02x} {reason}",
                        Span(path, line, column),
                        "save the spec as UTF-8 (any editor can)") from None


def load_program(text: str, path: str, *, parse=parse_text, read=read_spec,
                 report=None) -> Program:
    """The spec and the blocks of every library it imports.  An editor passes its own
    `parse` (error-recovering, cached), `read(path, budget=...)` (open buffers
    before files on disk) and `report`, which then receives each SpecError about
    imports and definitions instead of the first one being raised."""
    SPEC_BYTES.check(len(text.encode("utf-8", "surrogatepass")), Span(path, 1, 1))
    program = Program(path, files=[_key(path)])
    program.bytes = len(text.encode("utf-8", "surrogatepass"))
    _Loader(parse, read, report).add_module(program, parse(text, path), loaded={_key(path)})
    return program


def _key(path: str) -> str:
    try:
        return str(Path(path).resolve())
    except (OSError, ValueError, RuntimeError):  # a symlink loop, a NUL in the name
        return path


class _Loader:
    def __init__(self, parse, read, report):
        self.parse, self.read, self.report = parse, read, report

    def attempt(self, step, *args):
        """Run one step; its SpecError is raised, or reported when collecting them all
        (then the step is skipped: None)."""
        try:
            return step(*args)
        except SpecError as exc:
            if self.report is None:
                raise
            self.report(exc)
            return None

    def add_module(self, program: Program, module: ast.Module, loaded: set[str]) -> None:
        for imp in module.imports:
            # normalised so that diagnostics say specs/lib/x.cnn, not tests/../specs/lib/x.cnn
            target = Path(os.path.normpath(Path(module.path).parent / imp.path))
            key = _key(str(target))
            if key in loaded:  # imported already (or an import cycle): blocks are in
                continue
            loaded.add(key)
            program.files.append(key)
            library = self.attempt(self.library, program, imp, target, key)
            if library is not None:
                self.add_module(program, library, loaded)
        for block in module.blocks:
            self.attempt(_define_block, program, block)
        for function in module.functions:
            self.attempt(_define_function, program, function)
        self.attempt(_define_constants, program, module.constants)
        if module.path == program.path:  # a library's own networks are not the importer's
            program.networks.extend(module.networks)

    def library(self, program: Program, imp: ast.Import, target: Path, key: str) -> ast.Module:
        _check_library(imp, target, key)
        text = self.read(target, budget=SPEC_BYTES.value() - program.bytes)
        program.bytes += len(text.encode("utf-8"))
        return self.parse(text, str(target))


def _check_library(imp: ast.Import, target: Path, key: str) -> None:
    """SpecError at the import unless it names a .cnn spec file.  Nothing else is
    read: a diagnostic must never quote a line of /proc/self/environ."""
    try:
        found = os.stat(target)  # follows links; a loop of them is an OSError
    except OSError as exc:
        problem = ("its links go round in a loop" if exc.errno == errno.ELOOP
                   else f"no file {target}")
        raise SpecError(f"cannot import {imp.path!r}: {problem}", imp.span,
                        "imports are relative to the importing file") from None
    except ValueError:  # a NUL in the name
        raise SpecError(f"cannot import {imp.path!r}: not a file name", imp.span) from None
    if not stat.S_ISREG(found.st_mode):
        raise SpecError(f"cannot import {imp.path!r}: {target} is not a regular file", imp.span)
    if Path(imp.path).suffix != ".cnn" or Path(key).suffix != ".cnn":
        real = f" (a link to {key})" if Path(key).suffix != Path(imp.path).suffix else ""
        raise SpecError(f"cannot import {imp.path!r}{real}: only .cnn spec files can be "
                        f"imported", imp.span, "block libraries are .cnn files")


def _define_block(program: Program, block: ast.BlockDef) -> None:
    if lookup(block.name) is not None or block.name == "identity":
        raise SpecError(f"block {block.name!r} has the name of a built-in layer", block.span,
                        "rename the block")
    _define_once(program.blocks, block, "block")


def _define_function(program: Program, fn: ast.FuncDef) -> None:
    if fn.name in BUILTINS:
        raise SpecError(f"function {fn.name!r} has the name of a built-in function", fn.span,
                        "rename the function")
    _define_once(program.functions, fn, "function")


def _define_constants(program: Program, constants: tuple[ast.Let, ...]) -> None:
    defined = {name: let for let in program.constants for name in let.names}
    for let in constants:
        for name in let.names:
            if name in defined:
                raise SpecError(f"constant {name!r} is defined twice", let.span,
                                notes=((defined[name].span, "first defined here"),))
            defined[name] = let
        program.constants.append(let)


def _define_once(table: dict, definition, kind: str) -> None:
    """Add a block or function to `table`, refusing a second definition of its name and
    a parameter listed twice."""
    previous = table.get(definition.name)
    if previous is not None:
        raise SpecError(f"{kind} {definition.name!r} is defined twice", definition.span,
                        notes=((previous.span, "first defined here"),))
    seen: set[str] = set()
    for param in definition.params:
        if param.name in seen:
            raise SpecError(f"parameter {param.name!r} appears twice in {kind} "
                            f"{definition.name!r}", param.span)
        seen.add(param.name)
    table[definition.name] = definition
