"""Gather a spec and the block libraries it imports into one Program."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cnndsl.elaborate.builtins import BUILTINS
from cnndsl.errors import SpecError
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


def read_spec(path: str | Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"no such spec file: {path}") from None
    except IsADirectoryError:
        raise SpecError(f"{path} is a directory, not a .cnn spec") from None
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise SpecError(f"cannot read {path}: {exc.strerror}") from None


def load_program(text: str, path: str) -> Program:
    program = Program(path, files=[_key(path)])
    _add_module(program, parse_text(text, path), loaded={_key(path)})
    return program


def _key(path: str) -> str:
    try:
        return str(Path(path).resolve())
    except (OSError, ValueError, RuntimeError):  # a symlink loop, a NUL in the name
        return path


def _add_module(program: Program, module: ast.Module, loaded: set[str]) -> None:
    for imp in module.imports:
        target = Path(module.path).parent / imp.path
        key = _key(str(target))
        if key in loaded:  # imported already (or an import cycle): blocks are in
            continue
        loaded.add(key)
        program.files.append(key)
        if not target.is_file():
            raise SpecError(f"cannot import {imp.path!r}: no file {target}", imp.span,
                            "imports are relative to the importing file")
        _add_module(program, parse_text(read_spec(target), str(target)), loaded)
    for block in module.blocks:
        _define_block(program, block)
    for function in module.functions:
        _define_function(program, function)
    _define_constants(program, module.constants)
    if module.path == program.path:  # a library's own networks are not the importer's
        program.networks.extend(module.networks)


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
