"""Per-layer forward and backward times, in the manner of `caffe time`.

Each iteration runs the network twice, alternately, on the same module and batch:

1. step by step (cnndsl.profile.steps), reading the clock after every node's
   forward and, through a gradient hook on every node's output, as backward
   reaches each node.  The autograd engine runs one node's backward at a time
   (on one device queue), so the stretch from the hook on node k's output to
   the next hook is node k's backward: the per-layer backward times partition
   the whole backward pass.
2. plainly, `out = module(x); out.backward(g)`, timed as a whole: the
   reference the per-layer sum is compared with.

Figures are medians over `iterations` after `warmup` iterations; gradients are
cleared (set to None) outside the timed region.  Training mode with backward;
eval mode under torch.no_grad() with --forward-only.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from cnndsl.ir.graph import Node
from cnndsl.profile.clock import clock_for
from cnndsl.profile.steps import build_steps, run_steps


class TimingError(ValueError):
    """The timing cannot run as asked (no CUDA device, bad option)."""


@dataclass(frozen=True)
class TimeOptions:
    device: str = "cpu"
    batch: int = 16
    iterations: int = 10
    warmup: int = 3
    forward_only: bool = False
    amp: bool = False  # autocast: float16 on CUDA, bfloat16 on the CPU
    channels_last: bool = False
    threads: int | None = None  # CPU threads for PyTorch; None keeps its default
    seed: int = 0


@dataclass(frozen=True)
class LayerTime:
    node: Node
    forward_ms: float  # median over iterations
    backward_ms: float  # median; 0 with --forward-only or when autograd never reaches it

    @property
    def total_ms(self) -> float:
        return self.forward_ms + self.backward_ms


@dataclass(frozen=True)
class PassTime:
    forward_ms: float
    backward_ms: float
    total_ms: float  # the median of per-iteration totals (not the sum of the two medians)


@dataclass
class Timing:
    network: str
    options: TimeOptions
    input: tuple[int, ...]  # with the batch dimension
    layers: list[LayerTime]
    plain: PassTime  # module(x) (and backward) timed as a whole
    instrumented: PassTime  # the step-by-step runs timed as a whole
    device_name: str = ""
    threads: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def layer_sum(self) -> PassTime:
        fwd = sum(t.forward_ms for t in self.layers)
        bwd = sum(t.backward_ms for t in self.layers)
        return PassTime(fwd, bwd, fwd + bwd)

    @property
    def difference(self) -> float:
        """(sum of per-layer times) / (plain loop time) - 1."""
        return self.layer_sum.total_ms / self.plain.total_ms - 1.0


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


class _Runner:
    """The module, batch, clock and modes shared by the step-by-step and plain runs."""

    def __init__(self, network, options: TimeOptions):
        import torch
        self.torch, self.options = torch, options
        _check_device(options.device, torch)
        if not network.graph.layers():
            raise TimingError(f"network {network.name} has no layers to time")
        for name in ("batch", "iterations"):
            if getattr(options, name) < 1:
                raise TimingError(f"--{name} must be 1 or more")
        if options.warmup < 0:
            raise TimingError("--warmup must be 0 or more")
        if options.threads is not None:
            if options.threads < 1:
                raise TimingError("--threads must be 1 or more")
            torch.set_num_threads(options.threads)
        torch.manual_seed(options.seed)
        self.device = torch.device(options.device)
        self.backward = not options.forward_only
        graph = network.graph
        module = network.to_torch().to(self.device)
        x = torch.randn(options.batch, *graph.input.shape, device=self.device)
        if options.channels_last:
            module = module.to(memory_format=torch.channels_last)
            if x.dim() == 4:
                x = x.contiguous(memory_format=torch.channels_last)
        self.module, self.x = module.train(self.backward), x
        self.steps = build_steps(graph, module)
        self.clock = clock_for(options.device, torch)
        amp_dtype = torch.float16 if self.device.type == "cuda" else torch.bfloat16
        self.autocast = lambda: torch.autocast(self.device.type, dtype=amp_dtype,
                                               enabled=options.amp)
        self.grad_mode = torch.enable_grad if self.backward else torch.no_grad
        # with heads, all outputs run in training; in eval mode (--forward-only) only the main
        self.outputs = [node for _, node in graph.outputs][:None if self.backward else 1]
        if not self.backward:
            self.steps = [s for s in self.steps if graph.head_of(s.node) is None]
        with self.grad_mode(), self.autocast():
            out = _all(module(x))
        self.grad = [torch.ones_like(o) for o in out] if self.backward else None

    def plain(self) -> tuple[float, float]:
        clock = self.clock
        self.module.zero_grad(set_to_none=True)
        clock.sync()
        with self.grad_mode(), self.autocast():
            start = clock.mark()
            out = _all(self.module(self.x))
            forward_end = clock.mark()
        end = forward_end
        if self.backward:
            torch_backward(out, self.grad)
            end = clock.mark()
        clock.sync()
        return clock.elapsed_ms(start, forward_end), clock.elapsed_ms(forward_end, end)

    def stepwise(self) -> tuple[dict[int, float], dict[int, float], float, float]:
        """Per-node forward and backward ms, and the whole forward and backward ms."""
        clock = self.clock
        forward_marks: list[tuple[int, object]] = []
        backward_marks: list[tuple[int, object]] = []

        def after(step, out) -> None:
            forward_marks.append((step.node.id, clock.mark()))
            if self.backward and out.requires_grad:
                node_id = step.node.id
                out.register_hook(lambda grad: backward_marks.append((node_id, clock.mark())))

        self.module.zero_grad(set_to_none=True)
        clock.sync()
        with self.grad_mode(), self.autocast():
            start = clock.mark()
            out = run_steps(self.steps, self.x, after, self.outputs)
        forward_end = forward_marks[-1][1]
        end = forward_end
        if self.backward:
            torch_backward(out, self.grad)
            end = clock.mark()
        clock.sync()
        forward = _intervals(clock, start, forward_marks, None)
        backward = _intervals(clock, forward_end, backward_marks, end) if self.backward else {}
        return (forward, backward, clock.elapsed_ms(start, forward_end),
                clock.elapsed_ms(forward_end, end))


def _intervals(clock, start, marks: list[tuple[int, object]], end) -> dict[int, float]:
    """Forward (end None): node k's time runs from the previous mark to its own.
    Backward: from node k's hook to the next hook (the last one to `end`); the
    engine's start-up before the first hook is counted with the first node."""
    result: dict[int, float] = {}
    if end is None:
        previous = start
        for node_id, mark in marks:
            result[node_id] = clock.elapsed_ms(previous, mark)
            previous = mark
        return result
    for k, (node_id, mark) in enumerate(marks):
        following = marks[k + 1][1] if k + 1 < len(marks) else end
        result[node_id] = clock.elapsed_ms(start if k == 0 else mark, following)
    return result


def _check_device(name: str, torch) -> None:
    kind, colon, index = name.partition(":")
    if kind not in ("cpu", "cuda") or (colon and not index.isdigit()) or (
            kind == "cpu" and index not in ("", "0")):
        raise TimingError(f"unknown device {name!r}; use cpu, cuda or cuda:N")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise TimingError("--device cuda: PyTorch sees no CUDA device here")
        if index and int(index) >= torch.cuda.device_count():
            raise TimingError(f"--device {name}: there are {torch.cuda.device_count()} CUDA "
                              f"device(s), numbered from 0")


def time_network(network, options: TimeOptions = TimeOptions(), progress=None) -> Timing:
    """Time `network` (a cnndsl.Network) as built by `network.to_torch()`;
    `progress.iteration(done, total)` is called after every iteration (warm-up
    included), e.g. by a cnndsl.profile.progress.TimeProgress."""
    try:
        return _time(network, options, progress)
    except RuntimeError as exc:  # torch.cuda.OutOfMemoryError is one too
        text = str(exc)
        if "out of memory" not in text.lower() and "can't allocate memory" not in text:
            raise
        mib = sum(s.activation_bytes for s in network.analysis.nodes) * options.batch / 2 ** 20
        raise TimingError(f"{options.device} ran out of memory at batch {options.batch} "
                          f"(activations alone: about {mib:,.0f} MiB forward, as much again "
                          f"for backward); try a smaller --batch") from None


def _time(network, options: TimeOptions, progress=None) -> Timing:
    runner = _Runner(network, options)
    torch = runner.torch
    layers = network.graph.layers()
    forward: dict[int, list[float]] = {n.id: [] for n in layers}
    backward: dict[int, list[float]] = {n.id: [] for n in layers}
    plain: list[tuple[float, float]] = []
    whole: list[tuple[float, float]] = []
    if progress is not None:
        progress.iteration(0, options.warmup + options.iterations)
    for iteration in range(options.warmup + options.iterations):
        if iteration % 2:  # alternate which run goes first, so neither gets a warmer cache
            plain_fwd, plain_bwd = runner.plain()
            fwd, bwd, whole_fwd, whole_bwd = runner.stepwise()
        else:
            fwd, bwd, whole_fwd, whole_bwd = runner.stepwise()
            plain_fwd, plain_bwd = runner.plain()
        if progress is not None:
            progress.iteration(iteration + 1, options.warmup + options.iterations)
        if iteration < options.warmup:
            continue
        for node in layers:
            forward[node.id].append(fwd.get(node.id, 0.0))
            backward[node.id].append(bwd.get(node.id, 0.0))
        whole.append((whole_fwd, whole_bwd))
        plain.append((plain_fwd, plain_bwd))
    device_name = (torch.cuda.get_device_name(runner.device) if runner.device.type == "cuda"
                   else "CPU")
    return Timing(
        network=network.name, options=options, input=tuple(runner.x.shape),
        layers=[LayerTime(n, _median(forward[n.id]), _median(backward[n.id])) for n in layers],
        plain=_pass_time(plain), instrumented=_pass_time(whole), device_name=device_name,
        threads=torch.get_num_threads())


def _pass_time(samples: list[tuple[float, float]]) -> PassTime:
    return PassTime(_median([f for f, _ in samples]), _median([b for _, b in samples]),
                    _median([f + b for f, b in samples]))


__all__ = ["LayerTime", "PassTime", "TimeOptions", "Timing", "TimingError",
           "time_network"]


def _all(result) -> list:
    """The module's outputs as a list: with output heads, training returns them all."""
    return list(result) if isinstance(result, tuple) else [result]


def torch_backward(outputs: list, grads: list) -> None:
    """Backward from every output at once (the main one and each head's)."""
    import torch
    torch.autograd.backward(outputs, grads)
