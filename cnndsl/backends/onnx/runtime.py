"""Running exported graphs with ONNX Runtime.

Install either ``onnxruntime`` (CPU; the ``dev`` extra) or ``onnxruntime-gpu``
(the ``gpu`` extra: CUDA, with the CPU provider as fallback) — never both, as
they install the same Python module.
"""

from __future__ import annotations

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def providers(device: str = "auto") -> list[str]:
    """Execution providers for `device`: "cuda", "cpu", or "auto" (CUDA when
    onnxruntime-gpu is installed and sees a GPU, else CPU)."""
    ort = _onnxruntime()
    available = ort.get_available_providers()
    if device not in ("auto", "cuda", "cpu"):
        raise ValueError(f"device must be auto, cuda or cpu, got {device!r}")
    if device == "cuda" and CUDA not in available:
        raise RuntimeError("ONNX Runtime has no CUDA provider here: install cnndsl[gpu] "
                           "(onnxruntime-gpu) in place of onnxruntime, on a machine with CUDA")
    if device != "cpu" and CUDA in available:
        return [CUDA, CPU]
    return [CPU]


def session(path, device: str = "auto", threads: int | None = None):
    """An onnxruntime.InferenceSession for the model at `path`.  Feed it
    ``{"input": array}`` (float32, batch x C x H x W) and read ``"output"``."""
    ort = _onnxruntime()
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=providers(device))


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise ImportError("running ONNX graphs needs ONNX Runtime: pip install onnxruntime "
                          "(CPU) or cnndsl[gpu] (CUDA)") from None
    return onnxruntime
