"""The optimizers cnndsl train uses: torch's AdamW and SGD, fused, without torch._dynamo.

Two choices here make a short CPU run (the default LeNet-5 on the digits) faster
than the same loop written by hand with ``torch.optim.AdamW(params, lr)``:

- Fused kernels (``fused=True``) on the CPU as on CUDA: one pass over each
  parameter per step instead of a dozen element-wise ops (torch defaults to the
  per-tensor loop on the CPU).  The update is the same rule, rounded the same way
  up to float32 reassociation.
- No import of torch._dynamo.  Every torch optimizer wraps its methods
  (add_param_group, zero_grad, state_dict, load_state_dict, step) in
  ``torch._disable_dynamo``/``_use_grad_for_differentiable``, which import
  torch._dynamo on their first call: about a second of start-up on a 2-core
  machine (docs/performance.md).  The wrappers only matter while torch.compile
  traces the optimizer; ours never is (only the model is compiled), so the
  uncompiled classes below call the wrapped functions directly.  The state
  dicts are torch's own, so checkpoints and --resume are unchanged.

With ``--compile`` the plain torch classes are used (dynamo is loaded anyway)."""

from __future__ import annotations

import torch


def _unwrapped(cls: type, name: str):
    """`cls.name` without torch's dynamo-disabling wrappers (functools.wraps
    records the wrapped function as __wrapped__)."""
    fn = getattr(cls, name)
    while hasattr(fn, "__wrapped__"):
        fn = fn.__wrapped__
    return fn


def _without_dynamo(base: type) -> type:
    """A subclass of the torch optimizer `base` whose methods skip the wrappers."""
    inner_step = _unwrapped(base, "step")

    @torch.no_grad()  # what _use_grad_for_differentiable does when not differentiable
    def step(self, closure=None):
        return inner_step(self, closure)

    methods = {name: _unwrapped(torch.optim.Optimizer, name)
               for name in ("add_param_group", "zero_grad", "state_dict", "load_state_dict")}
    # Optimizer.__init__ wraps `step` of the class once for profiling hooks, as for torch's own
    cls = type(base.__name__, (base,), {**methods, "step": step,
                                        "__doc__": f"{base.__name__} without the torch._dynamo import",
                                        "__module__": __name__})
    return cls


AdamW = _without_dynamo(torch.optim.AdamW)
SGD = _without_dynamo(torch.optim.SGD)

# optimizer name -> (class when uncompiled, class when compiled, fixed keyword arguments)
OPTIMIZERS = {
    "adamw": (AdamW, torch.optim.AdamW, {}),
    "sgd": (SGD, torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
}


def make_optimizer(name: str, groups: list[dict], lr: float, device: torch.device,
                   compiled: bool) -> torch.optim.Optimizer:
    plain, traced, fixed = OPTIMIZERS[name]
    # fused kernels exist for floating-point parameters on the CPU and CUDA
    fused = device.type in ("cpu", "cuda") and all(
        p.is_floating_point() for g in groups for p in g["params"])
    cls = traced if compiled else plain
    return cls(groups, lr=lr, fused=fused or None, **fixed)
