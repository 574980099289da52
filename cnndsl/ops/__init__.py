"""Layer types.  Importing this package fills the registry (cnndsl.ops.registry.OPS)."""

from cnndsl.ops import activation, conv, norm, pool, structure  # noqa: F401  (registration)
from cnndsl.ops import channels, regularise, scale  # noqa: F401  (registration)
from cnndsl.ops.registry import ALIASES, OPS, Arg, OpDef, Window, lookup

__all__ = ["ALIASES", "OPS", "Arg", "OpDef", "Window", "lookup"]
