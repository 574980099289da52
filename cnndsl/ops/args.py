"""Argument kinds: convert an evaluated value to a normalised attribute or
raise ValueError with a message meant for the person who wrote the spec."""

from __future__ import annotations


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) or (
        isinstance(v, float) and v.is_integer())


def positive_int(v) -> int:
    if not _is_int(v) or int(v) < 1:
        raise ValueError(f"expected a positive whole number, got {_show(v)}")
    return int(v)


def non_negative_int(v) -> int:
    if not _is_int(v) or int(v) < 0:
        raise ValueError(f"expected a whole number >= 0, got {_show(v)}")
    return int(v)


def _pair(v, item) -> tuple[int, int]:
    if isinstance(v, tuple):
        if len(v) != 2:
            raise ValueError(f"expected a size like 3 or 1x7, got {_show(v)}")
        return item(v[0]), item(v[1])
    x = item(v)
    return x, x


def non_negative_pair(v) -> tuple[int, int]:
    return _pair(v, non_negative_int)


def positive_pair(v) -> tuple[int, int]:
    """A kernel/stride/dilation: 3, 1x7 or (1, 7)."""
    return _pair(v, positive_int)


def padding(v):
    """Padding: 1, 0x3, (t, l, b, r), or the words same/valid."""
    if v in ("same", "valid"):
        return v
    if isinstance(v, tuple) and len(v) == 4:
        return tuple(non_negative_int(x) for x in v)
    return _pair(v, non_negative_int)


def pool_kernel(v):
    if v == "global":
        return v
    return positive_pair(v)


def boolean(v) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"expected true or false, got {_show(v)}")
    return v


# Networks compute in float32 (the PyTorch module, ONNX's attributes): a value that
# is finite in Python but not there (1e300) would become inf in the exported graph
FLOAT32_MAX = 3.4028234663852886e38
FLOAT32_TINY = 1.401298464324817e-45  # the smallest positive float32 (subnormal)


def number(v) -> float:
    """A finite number that float32 can hold."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or abs(v) == float("inf"):
        raise ValueError(f"expected a number, got {_show(v)}")
    if abs(v) > FLOAT32_MAX:
        raise ValueError(f"{_show(v)} is too large for float32, the precision the network "
                         f"computes in (at most {FLOAT32_MAX:.4g})")
    return float(v)


def positive_number(v) -> float:
    x = number(v)
    if x <= 0:
        raise ValueError(f"expected a number above 0, got {_show(v)}")
    if x < FLOAT32_TINY / 2:  # rounds to 0 in float32: a zero eps divides by zero
        raise ValueError(f"{_show(v)} is too small for float32: it would be 0 there "
                         f"(the smallest positive float32 is {FLOAT32_TINY:.4g})")
    return x


def non_negative_number(v) -> float:
    x = number(v)
    if x < 0:
        raise ValueError(f"expected a number of 0 or more, got {_show(v)}")
    return x


def momentum(v) -> float:
    x = number(v)
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"expected a momentum in [0, 1], got {_show(v)}")
    return x


def probability(v) -> float:
    p = number(v)
    if not 0.0 <= p < 1.0:
        raise ValueError(f"expected a probability in [0, 1), got {_show(v)}")
    return p


def choice(*options: str):
    """One of a few words, written as a string: approximate="tanh"."""
    def convert(v) -> str:
        if v not in options:
            listed = ", ".join(f'"{o}"' for o in options)
            raise ValueError(f"expected one of {listed}, got {_show(v)}")
        return v
    return convert


def _show(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, tuple):
        return "x".join(str(x) for x in v) if all(_is_int(x) for x in v) else str(v)
    if isinstance(v, str):
        return repr(v) if v not in ("same", "valid", "global") else v
    if isinstance(v, float):  # 8.4, not 8.399999999999999; but never a fraction shown whole
        short = f"{v:.12g}"
        return repr(v) if v.is_integer() or float(short).is_integer() else short
    return repr(v)


show = _show
