"""Gather a spec and the block libraries it imports into one Program."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cnndsl.errors import SpecError
from cnndsl.ops import lookup
from cnndsl.syntax import ast, parse_text


@dataclass
class Program:
    path: str
    blocks: dict[str, ast.BlockDef] = field(default_factory=dict)
    networks: list[ast.NetworkDef] = field(default_factory=list)
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
    except OSError:
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
    if module.path == program.path:  # a library's own networks are not the importer's
        program.networks.extend(module.networks)


def _define_block(program: Program, block: ast.BlockDef) -> None:
    if lookup(block.name) is not None or block.name == "identity":
        raise SpecError(f"block {block.name!r} has the name of a built-in layer", block.span,
                        "rename the block")
    previous = program.blocks.get(block.name)
    if previous is not None:
        raise SpecError(f"block {block.name!r} is defined twice", block.span,
                        notes=((previous.span, "first defined here"),))
    seen: set[str] = set()
    for param in block.params:
        if param.name in seen:
            raise SpecError(f"parameter {param.name!r} appears twice in block {block.name!r}",
                            param.span)
        seen.add(param.name)
    program.blocks[block.name] = block
