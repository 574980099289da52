"""Safe text for generated source: identifiers, literals and comments.

Everything a spec (or a hand-built IR) names ends up in Python source, so
nothing is pasted in unchecked: identifiers must be plain ASCII Python names
that are not keywords and cannot shadow what the generated code relies on,
literals are produced by `literal()` from a closed set of types, and free text
(paths, network names in comments) goes through `comment_text()` (cnndsl.escape).
"""

from __future__ import annotations

import keyword
import math
import re

from cnndsl.errors import Span, SpecError
from cnndsl.escape import python_string, python_text

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

# Names the generated code itself uses; a spec name equal to one gets a trailing "_".
RESERVED = frozenset({"self", "super", "torch", "nn", "x", "out", "in_channels", "forward",
                      "training", "float"})
# nn.Module's own public attributes (torch 2.x): a submodule or a kept argument of one of
# these names would hide it (`self.train = ...` breaks model.train())
MODULE_ATTRIBUTES = frozenset({
    "T_destination", "add_module", "apply", "bfloat16", "buffers", "call_super_init",
    "children", "compile", "cpu", "cuda", "double", "dump_patches", "eval", "extra_repr",
    "float", "forward", "get_buffer", "get_extra_state", "get_parameter", "get_submodule",
    "half", "ipu", "load_state_dict", "modules", "mtia", "named_buffers", "named_children",
    "named_modules", "named_parameters", "parameters", "register_backward_hook",
    "register_buffer", "register_forward_hook", "register_forward_pre_hook",
    "register_full_backward_hook", "register_full_backward_pre_hook",
    "register_load_state_dict_post_hook", "register_load_state_dict_pre_hook",
    "register_module", "register_parameter", "register_state_dict_post_hook",
    "register_state_dict_pre_hook", "requires_grad_", "set_extra_state", "set_submodule",
    "share_memory", "state_dict", "to", "to_empty", "train", "training", "type", "xpu",
    "zero_grad"})


def check_identifier(name: str, what: str, span: Span | None = None) -> str:
    """`name` if it is safe as a Python identifier in generated code, else SpecError."""
    if (not isinstance(name, str) or not _IDENTIFIER.match(name) or keyword.iskeyword(name)
            or keyword.issoftkeyword(name) or name.startswith("__")):
        raise SpecError(f"{what} {comment_text(str(name))!r} cannot be used as a Python name "
                        f"in generated code", span,
                        "use letters, digits and underscores, not starting with a digit or __")
    return name


def attribute_name(name: str, span: Span | None = None) -> str:
    """A submodule attribute (one segment of a hierarchical IR name): a Python name,
    or the number a `sequential` group gives its child (nn.Sequential's `0`, `1`)."""
    if isinstance(name, str) and name.isascii() and name.isdigit() and len(name) < 10:
        return name
    check_identifier(name, "layer name", span)
    if name in RESERVED or name in MODULE_ATTRIBUTES or name.startswith("_"):
        raise SpecError(f"layer name {name!r} clashes with a name nn.Module uses", span)
    return name


def attribute_ref(name: str) -> str:
    """How generated code reads submodule `name`: `self.conv1`, `getattr(self, "0")`."""
    return f"self.{name}" if not name.isdigit() else f'getattr(self, "{name}")'


def attribute_assignment(name: str) -> str:
    """How generated code sets submodule `name`: `self.conv1 = `, `self.add_module("0", `;
    the latter's call gets one more ')' (attribute_close)."""
    return f"self.{name} = " if not name.isdigit() else f'self.add_module("{name}", '


def parameter_assignment(name: str) -> str:
    """How generated code sets parameter `name`: `self.layer_scale = `, or
    `self.register_parameter("3", ` (one more ')' to close)."""
    return f"self.{name} = " if not name.isdigit() else f'self.register_parameter("{name}", '


def parameter_name(name: str, span: Span | None = None) -> str:
    """A constructor parameter named after a block argument; escaped, never rejected
    unless it is not a name at all."""
    if isinstance(name, str) and (keyword.iskeyword(name) or keyword.issoftkeyword(name)
                                  or name in RESERVED):
        name = name + "_"
    if isinstance(name, str) and name.startswith("__"):
        name = "arg" + name
    return check_identifier(name, "block argument", span)


def class_name(name: str, taken: set[str], span: Span | None = None) -> str:
    """CamelCase class name for a block or network (`basic_block` -> `BasicBlock`),
    unique among `taken` (which it updates)."""
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        check_identifier(name, "block or network name", span)  # raises
    base = "".join(part[:1].upper() + part[1:] for part in name.split("_") if part) or "Block"
    if base[0].isdigit():  # `_0` would give class 0
        base = "_" + base
    if base in ("Module", "Tensor") or keyword.iskeyword(base):
        base += "Block"
    candidate, k = base, 2
    while candidate in taken:
        candidate, k = f"{base}{k}", k + 1
    taken.add(candidate)
    return candidate


def literal(value) -> str:
    """Python source for an attribute value: bool, int, finite float, str, or a tuple of them."""
    if value is None or isinstance(value, (bool, int)):
        return repr(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SpecError(f"value {value!r} cannot be written into generated code")
        return repr(value)
    if isinstance(value, str):
        return python_string(value)
    if isinstance(value, tuple):
        items = [literal(v) for v in value]
        return f"({items[0]},)" if len(items) == 1 else "(" + ", ".join(items) + ")"
    raise SpecError(f"value of type {type(value).__name__} cannot be written into generated code")


def comment_text(text: str) -> str:
    """One line of printable ASCII, safe inside a comment or a docstring."""
    return python_text(text)
