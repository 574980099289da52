"""Timestamps on the device that does the work.

On the CPU PyTorch ops return when their result is ready, so a wall clock read
between two ops times the first.  On a GPU ops only enqueue kernels; CUDA events
recorded on the current stream mark when the GPU reaches that point, and are
read once the iteration has been synchronised.
"""

from __future__ import annotations

import time


class CpuClock:
    def mark(self):
        return time.perf_counter()

    def elapsed_ms(self, start, end) -> float:
        return (end - start) * 1000.0

    def sync(self) -> None:
        pass


class CudaClock:
    def __init__(self, torch):
        self.torch = torch

    def mark(self):
        event = self.torch.cuda.Event(enable_timing=True)
        event.record()
        return event

    def elapsed_ms(self, start, end) -> float:
        return start.elapsed_time(end)

    def sync(self) -> None:
        self.torch.cuda.synchronize()


def clock_for(device: str, torch):
    return CudaClock(torch) if device.startswith("cuda") else CpuClock()
