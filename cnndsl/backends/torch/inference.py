"""The inference build: a module for test time only (cnndsl.ir.inference).

    net.to_torch(inference=True, weights=state_dict_or_path)
    cnndsl build SPEC --target torch --inference [--weights W] -o model.py

The generated source is the ordinary back end's, run on the rewritten graph
(batch norms folded into their conv/fc, dropout and drop_path removed,
activations in place), so it stays readable: the folded layers are plain
``nn.Conv2d(..., bias=True)``.  Their values are computed here from the
training module's weights (the network's fresh initialisation, a checkpoint
or any state dict load_weights accepts), in float64, and loaded into the
module, never written into the source as literals."""

from __future__ import annotations

from cnndsl.ir.inference import fold, inference_graph

BN_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def inference_network(network):
    """A Network for the rewritten graph, and {folded layer: its batch norm}."""
    from cnndsl.network import Network
    graph, folds = inference_graph(network.graph)
    return Network(graph, network.warnings, network.source, network.files), folds


def fold_weights(network, state_dict: dict) -> dict:
    """The inference module's state dict from the training module's (keys as the
    generated training module names them): folded layers in float64, the rest as given."""
    return _folded(network, inference_network(network)[1], state_dict)


def _folded(network, folds: dict[str, str], state_dict: dict) -> dict:
    import torch
    dropped = {f"{bn}.{key}" for bn in folds.values() for key in BN_KEYS}
    heads = tuple(f"{head.scope_name}." for head in network.graph.heads)  # not in the build
    result = {k: v for k, v in state_dict.items()
              if k not in dropped and not k.startswith(heads)}
    eps = {node.name: node.attrs["eps"] for node in network.graph.nodes if node.op == "bn"}
    for layer, bn in folds.items():
        get = lambda key, name=bn: _numpy(state_dict.get(f"{name}.{key}"))  # noqa: E731
        weight, bias = fold(_numpy(state_dict[f"{layer}.weight"]),
                            _numpy(state_dict.get(f"{layer}.bias")), get("running_mean"),
                            get("running_var"), get("weight"), get("bias"), eps[bn])
        result[f"{layer}.weight"] = torch.from_numpy(weight)
        result[f"{layer}.bias"] = torch.from_numpy(bias)
    return result


def _numpy(tensor):
    return None if tensor is None else tensor.detach().cpu().double().numpy()


def build_inference_module(network, weights=None, channels_last: bool | None = None,
                           by_order: bool = False):
    """The inference module in eval mode, holding `weights` (a state dict or a
    weights file; None: the training module's fresh initialisation) folded.
    channels_last: None converts the weights of a network on feature maps to
    channels_last (NHWC), which measured faster in 11 of 12 CPU cases
    (docs/performance.md); False keeps NCHW.  by_order: pair `weights` by
    declaration order, not by name (see load_weights)."""
    import torch

    from cnndsl.backends.torch import build_module, load_weights
    from cnndsl.state_dicts import read_state_dict
    trained = build_module(network)
    if weights is not None:
        if not isinstance(weights, dict):
            weights = read_state_dict(weights)
        load_weights(trained, weights, strict=True, by_order=by_order)
    rewritten, folds = inference_network(network)
    module = build_module(rewritten)
    module.load_state_dict(_folded(network, folds, trained.state_dict()), strict=True)
    module.eval()
    if channels_last is None:
        channels_last = len(network.input_shape) == 3
    if channels_last:
        module.to(memory_format=torch.channels_last)
    return module
