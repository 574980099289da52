"""Data-parallel training through torch.distributed (DDP).

Three ways to run:

- one process (the default);
- ``cnndsl train SPEC --nproc-per-node N``: cnndsl spawns N workers on this
  machine (one per GPU on CUDA; on the CPU N gloo processes share the cores);
- ``torchrun --nproc-per-node N -m cnndsl train SPEC`` (and torchrun's
  multi-node options): each process finds RANK/WORLD_SIZE/LOCAL_RANK in its
  environment and joins the group.

The back end is nccl on CUDA and gloo on the CPU.  Rank 0 alone prints and
writes files; every rank computes."""

from __future__ import annotations

import gc
import os
import socket
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Context:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def from_environment() -> Context | None:
    """The context torchrun (or our own spawner) describes in the environment, if any."""
    if "WORLD_SIZE" not in os.environ or "RANK" not in os.environ:
        return None
    return Context(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]),
                   int(os.environ.get("LOCAL_RANK", 0)))


def init_group(context: Context, device: torch.device) -> None:
    if context.distributed and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                rank=context.rank, world_size=context.world,
                                device_id=device if device.type == "cuda" else None)


def shutdown() -> None:
    if dist.is_initialized():
        gc.collect()  # a DDP wrapper in a reference cycle keeps the group's threads alive
        dist.destroy_process_group()


def sum_all(values: torch.Tensor, context: Context) -> torch.Tensor:
    """Element-wise sum over all processes (a no-op for one process)."""
    if context.distributed:
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def barrier(context: Context) -> None:
    if context.distributed:
        dist.barrier()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(config_dict: dict, nproc: int) -> int:
    """Run `nproc` training workers on this machine; returns the exit code."""
    import torch.multiprocessing as mp
    port = free_port()
    try:
        mp.start_processes(_worker, args=(config_dict, nproc, port), nprocs=nproc,
                           join=True, start_method="spawn")
    except mp.ProcessExitedException as exc:
        return exc.exit_code if exc.exit_code and exc.exit_code > 0 else 1
    except mp.ProcessRaisedException as exc:
        print(f"cnndsl: a training worker failed:\n{exc}", file=sys.stderr)
        return 2
    return 0


def _worker(local_rank: int, config_dict: dict, nproc: int, port: int) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(local_rank),
                      WORLD_SIZE=str(nproc), LOCAL_RANK=str(local_rank),
                      LOCAL_WORLD_SIZE=str(nproc))
    code = run_worker(config_dict, Context(local_rank, nproc, local_rank))
    # Skip interpreter finalisation: gloo threads still referenced from garbage
    # (a DDP reducer) can abort the process there ("terminate called without an
    # active exception") after the run has succeeded.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run_worker(config_dict: dict, context: Context) -> int:
    """Train as one process of a group; user errors print on rank 0 and exit 1."""
    from cnndsl.errors import SpecError
    from cnndsl.train.config import TrainConfig
    from cnndsl.train.loop import train
    if not torch.cuda.is_available():  # CPU workers share the cores instead of fighting
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(1, context.world)))
    try:
        train(TrainConfig.from_dict(config_dict), context)
        # Leave the group together: rank 0 still writes curves.png after the last
        # epoch, and a rank tearing gloo down meanwhile can abort its peer.
        barrier(context)
    except SpecError as exc:
        if context.main:
            print(exc, file=sys.stderr, flush=True)
        return 1
    finally:
        shutdown()
    return 0
