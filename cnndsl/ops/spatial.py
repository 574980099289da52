"""Sliding-window arithmetic shared by convolution and pooling."""

from __future__ import annotations

from cnndsl.errors import ShapeError
from cnndsl.ir.graph import Shape, format_shape


def feature_map(op: str, shape: Shape) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ShapeError(f"{op} needs a CxHxW feature map, but its input is a flat vector of "
                         f"{shape[0]} features",
                         f"{op} cannot follow flatten or fc; move it before the flatten")
    return shape  # type: ignore[return-value]


def effective_kernel(kernel: tuple[int, int], dilation: tuple[int, int]) -> tuple[int, int]:
    return (dilation[0] * (kernel[0] - 1) + 1, dilation[1] * (kernel[1] - 1) + 1)


def resolve_pads(pad, kernel_eff, stride, size) -> tuple[int, int, int, int]:
    """Explicit (top, left, bottom, right) padding; 'same' follows TensorFlow
    (output = ceil(n / stride), odd extra padding at the bottom/right)."""
    if pad == "valid":
        return (0, 0, 0, 0)
    if pad == "same":
        begin, end = [], []
        for n, k, s in zip(size, kernel_eff, stride):
            total = max((-(-n // s) - 1) * s + k - n, 0)
            begin.append(total // 2)
            end.append(total - total // 2)
        return (begin[0], begin[1], end[0], end[1])
    if len(pad) == 4:
        return tuple(pad)  # type: ignore[return-value]
    return (pad[0], pad[1], pad[0], pad[1])


def output_size(n: int, k: int, s: int, p_begin: int, p_end: int, ceil: bool) -> int:
    span = n + p_begin + p_end - k
    if ceil:
        out = -(-span // s) + 1
        # PyTorch and ONNX: the last window must start inside the input or left padding
        if (out - 1) * s >= n + p_begin:
            out -= 1
        return out
    return span // s + 1


def window_output(op: str, label: str, size: tuple[int, int], kernel_eff, stride, pads,
                  ceil: bool = False, is_pool: bool = False) -> tuple[int, int]:
    padded = (size[0] + pads[0] + pads[2], size[1] + pads[1] + pads[3])
    out = tuple(output_size(n, k, s, pads[i], pads[i + 2], ceil)
                for i, (n, k, s) in enumerate(zip(size, kernel_eff, stride)))
    too_big = any(k > p for k, p in zip(kernel_eff, padded))
    if is_pool and min(out) <= 0:
        raise ShapeError(
            f"spatial size reaches {format_shape(out)}: {label} on a {format_shape(size)} input",
            "the feature map is already too small here; use a larger input or remove a "
            "downsampling layer before this one")
    if too_big:
        raise ShapeError(
            f"{op} kernel {format_shape(kernel_eff)} is larger than its padded "
            f"{format_shape(padded)} input",
            "use a smaller kernel, more padding, or fewer downsampling layers before it")
    return out  # type: ignore[return-value]


def stride_warnings(size, kernel_eff, stride, pads, ceil=False) -> list[tuple[str, str | None]]:
    """Warn when the last windows leave real input rows/columns unread: the
    lecture's 7x7 input with a 3x3 filter at stride 3."""
    if ceil:
        return []
    dropped = []
    for i, (n, k, s) in enumerate(zip(size, kernel_eff, stride)):
        leftover = (n + pads[i] + pads[i + 2] - k) % s
        dropped.append(max(0, leftover - pads[i + 2]) if k >= s else 0)
    if not any(dropped):
        return []
    rows, cols = dropped
    parts = [f"{rows} row{'s' * (rows != 1)}" if rows else "",
             f"{cols} column{'s' * (cols != 1)}" if cols else ""]
    what = " and ".join(p for p in parts if p)
    s = stride[0] if stride[0] == stride[1] else format_shape(stride)
    return [(f"stride {s} does not fit the {format_shape(size)} input: the last {what} "
             f"are never read",
             "pad the input, change the stride or kernel, or use ceil=true for pooling, so that "
             "(n + 2*pad - kernel) is a multiple of the stride")]
