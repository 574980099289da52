"""Layer-name patterns, as --freeze takes them: one rule, independent of how
names are made.

A pattern is a shell-style glob (``*``, ``?``, ``[1-3]``) compared with a
layer's dotted hierarchical name *and with every dotted suffix of it*:
``conv1`` matches ``conv1``, ``stem.conv1`` and ``stage2.block1.conv1``;
``stage1.*`` matches everything inside any ``stage1``.  A pattern that matches
a block matches every layer inside it.  Torch-free: it sees only names."""

from __future__ import annotations

import difflib
import fnmatch


def suffixes(name: str) -> list[str]:
    """``a.b.c`` -> ``["a.b.c", "b.c", "c"]``: the names a pattern is tried on."""
    parts = name.split(".")
    return [".".join(parts[k:]) for k in range(len(parts))]


def matches(name: str, pattern: str) -> bool:
    """Whether `pattern` matches `name` or a suffix of it, or a block `name` is inside."""
    return any(fnmatch.fnmatchcase(tail, pattern)
               for prefix in _prefixes(name) for tail in suffixes(prefix))


def select(names: list[str], patterns: list[str]) -> tuple[list[str], list[str]]:
    """(the names some pattern matches, the patterns that match none of them)."""
    chosen = [n for n in names if any(matches(n, p) for p in patterns)]
    unmatched = [p for p in patterns if not any(matches(n, p) for n in names)]
    return chosen, unmatched


def closest(pattern: str, names: list[str], count: int = 5) -> list[str]:
    """The names (or suffixes of them) nearest to `pattern`, for a "did you mean" hint."""
    candidates = sorted({tail for name in names for prefix in _prefixes(name)
                         for tail in suffixes(prefix)})
    near = difflib.get_close_matches(pattern, candidates, n=count, cutoff=0.5)
    # nothing near: the network's top-level names, in order, say where to start
    return near or list(dict.fromkeys(name.split(".")[0] for name in names))[:count]


def _prefixes(name: str) -> list[str]:
    """``a.b.c`` -> ``["a", "a.b", "a.b.c"]``: the blocks `name` sits in, and itself."""
    parts = name.split(".")
    return [".".join(parts[:k]) for k in range(1, len(parts) + 1)]
