"""Every figure under the check table, computed once: the table's footer and
the JSON report's "summary" both read it, so they cannot disagree.

Sizes follow torchinfo's units (MB = 10^6 bytes, float32 = 4 bytes) and are
for `batch` samples.  Two totals are given (docs/analysis.md explains them):

- ours, ``estimated_total``: input + every layer's output (what a forward pass
  keeps for backward) + parameters + buffers;
- torchinfo's convention, ``torchinfo_total``: input + 2 x the outputs of the
  layers that have parameters ("x2 for gradients"; outputs of parameter-free
  layers - activations, pooling, adds - not counted) + parameters (no buffers).
"""

from __future__ import annotations

from math import prod

from cnndsl.analysis import Analysis
from cnndsl.analysis.passes import BYTES_PER_ELEMENT

MB = 1e6


def summary(analysis: Analysis, batch: int = 1) -> dict:
    """The totals and the size estimate of `analysis`, for `batch` samples."""
    a = analysis
    params, buffers = a.total_params, a.total("buffers")
    rf = a.output_field
    input_bytes = prod(a.graph.input.shape) * BYTES_PER_ELEMENT * batch
    activation_bytes = a.activation_bytes * batch
    param_bytes, buffer_bytes = params * BYTES_PER_ELEMENT, buffers * BYTES_PER_ELEMENT
    weighted = [s for s in a.layers if s.cost.params > 0]
    torchinfo_pass = 2 * sum(s.activation_bytes for s in weighted) * batch
    return {
        "batch": batch,
        "total_params": params,
        "trainable_params": params,  # nothing is frozen in a spec (cnndsl train --freeze is)
        "non_trainable_params": 0,
        "buffers": buffers,
        "macs": a.total_macs,
        "macs_batch": a.total_macs * batch,
        "other_ops": a.total("other_ops"),
        "fvcore_macs": a.fvcore_macs,
        "receptive_field": list(rf.size),
        "jump": [_number(j) for j in rf.jump],
        "size": {
            "unit": "MB = 10^6 bytes, float32",
            "input_bytes": input_bytes,
            "activation_bytes": activation_bytes,
            "param_bytes": param_bytes,
            "buffer_bytes": buffer_bytes,
            "estimated_total_bytes": input_bytes + activation_bytes + param_bytes + buffer_bytes,
            "torchinfo_layers_with_params": len(weighted),
            "torchinfo_forward_backward_bytes": torchinfo_pass,
            "torchinfo_total_bytes": input_bytes + torchinfo_pass + param_bytes,
        },
    }


def _number(value):
    """An int, or a float for a fractional jump (after upsampling)."""
    return int(value) if value == int(value) else float(value)


def footer_lines(s: dict, input_shape: str, human, field: str) -> list[str]:
    """The footer of the check table, from summary(); `field` is the receptive
    field line's text (as the table writes sizes and jumps)."""
    size, batch = s["size"], s["batch"]
    per = "" if batch == 1 else f"; for batch {batch}: {s['macs_batch']:,}"
    params = s["total_params"]

    def mb(key: str) -> str:
        return f"{size[key] / MB:10.2f} MB"
    return [
        f"Total params: {params:,} ({params * 4 / 1024 ** 2:.2f} MiB as float32)",
        f"Trainable params: {s['trainable_params']:,}",
        f"Non-trainable params: {s['non_trainable_params']:,}",
        f"Buffers: {s['buffers']:,} (batch-norm running statistics)",
        f"MACs (conv + fc): {s['macs']:,} ({human(s['macs'])}) per sample{per}",
        f"Other ops (BN, pooling, activations, adds): {s['other_ops']:,}",
        f"fvcore-comparable count (MACs + eval norms + adaptive pooling): {s['fvcore_macs']:,}",
        f"Receptive field at the output: {field}",
        f"Size estimate for batch {batch} (float32; MB = 10^6 bytes, as torchinfo):",
        f"  input               {mb('input_bytes')}  {batch} x {input_shape}",
        f"  activations         {mb('activation_bytes')}  every layer's output, kept for backward",
        f"  params              {mb('param_bytes')}  {params:,} x 4 bytes",
        f"  buffers             {mb('buffer_bytes')}  batch-norm running statistics",
        f"  estimated total     {mb('estimated_total_bytes')}",
        f"  torchinfo's total   {mb('torchinfo_total_bytes')}  input + params + 2 x the outputs of "
        f"the {size['torchinfo_layers_with_params']} layers with params",
        f"                                 (its forward/backward pass size, "
        f"{size['torchinfo_forward_backward_bytes'] / MB:.2f} MB); no buffers",
    ]
