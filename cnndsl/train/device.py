"""Where and how the network runs: device, autocast, memory format, torch.compile.

Defaults ("auto", None) follow what helps on each device: on CUDA, bf16
autocast, channels_last and torch.compile are on and cuDNN autotuning and TF32
are enabled; on the CPU all three are off (bf16 on a CPU without AMX is slower,
and compiling costs more than it saves on a short run)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from cnndsl.train.config import TrainConfig
from cnndsl.train.errors import TrainError


@dataclass(frozen=True)
class Runtime:
    device: torch.device
    amp: bool
    amp_dtype: torch.dtype
    channels_last: bool
    compile: bool

    def autocast(self):
        if not self.amp:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def describe(self) -> str:
        flags = [f"amp {'bf16' if self.amp_dtype == torch.bfloat16 else 'fp16'}" if self.amp else None,
                 "channels_last" if self.channels_last else None,
                 "compiled" if self.compile else None]
        return ", ".join([str(self.device)] + [f for f in flags if f])


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise TrainError("--device cuda was asked for, but torch sees no CUDA device",
                             hint="use --device cpu (or auto)")
        if name == "cuda":
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        return torch.device(name)
    if name != "cpu":
        raise TrainError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N")
    return torch.device("cpu")


def runtime(config: TrainConfig, local_rank: int = 0) -> Runtime:
    device = pick_device(config.device, local_rank)
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.set_device(device)
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    amp = config.amp if config.amp is not None else cuda
    dtype = torch.bfloat16 if config.amp_dtype == "bf16" else torch.float16
    if amp and cuda and dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
        dtype = torch.float16  # pre-Ampere GPUs: fp16 with a gradient scaler
    channels_last = config.channels_last if config.channels_last is not None else cuda
    compiled = config.compile if config.compile is not None else cuda
    return Runtime(device, amp, dtype, channels_last, compiled)
