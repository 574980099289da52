"""Network parameters as constructor arguments of the generated network class:
`network resnet18(classes = 1000)` -> `def __init__(self, num_classes=1000)`, so
the class is built as torchvision's is (`Resnet18(num_classes=10)`).  The spec's
`classes` (the name `cnndsl train --set classes=` and the language use) takes
torchvision's name `num_classes` in Python; other parameters keep theirs.

Which layers a parameter reaches is measured, not guessed: the network is
elaborated again with the parameter changed (a probe), and the layer arguments
that change, at any depth, must be those that equal the parameter in both builds
(`fc(classes)` in a block `vgg_head(classes)` or in a labelled group).  Each is
marked, and the classes that hold it take it as a constructor argument even where
their calls agree, down from the network class (`VggHead(num_classes=num_classes)`).
A parameter whose change reaches anything else (a count of layers, a value computed
from it) stays a literal: the class is exact for the spec's values, and a
constructor argument must be exact for every value it takes.  One probe (the value
+ 1) tells a layer that follows the parameter from one that does not; a spec that
treats the two values alike but others differently (`fc(classes if classes < 2000
else 10)`) would fool it, as no spec in the zoo does.
"""

from __future__ import annotations

from cnndsl.backends.torch import names
from cnndsl.backends.torch.structure import Instance, Item, build_tree, fingerprint
from cnndsl.errors import SpecError

# Spec parameter -> the constructor argument torchvision's models call it.
TORCHVISION_ARGUMENTS = {"classes": "num_classes"}


def network_knobs(network, root: Instance) -> dict[str, object]:
    """{parameter name: default} for each whole-number network parameter whose change
    reaches only layer arguments that equal it, each marked with the name on its item
    (`Item.knobs`) so the classes between take it as an argument (resolve_params).
    Measured on the tree as built, before grouping lays out items anew."""
    found: dict[str, object] = {}
    if getattr(network, "rebuild", None) is None:
        return found
    for param, value in network.graph.params:
        if isinstance(value, bool) or not isinstance(value, int):
            continue  # only whole numbers: a float probe could round to the same layers
        probe = value + 1
        try:
            changed = build_tree(network.rebuild({param: probe}))
        except SpecError:  # the probe value is out of range for the spec (choices, sizes)
            continue
        sites = _sites(root, changed, value, probe)
        if sites:
            name = _argument_name(param, network)
            found[name] = value
            for site, j in sites:
                if j is None:
                    site.channels_knob = name
                else:
                    site.knobs[j] = name
    return found


def apply_knobs(root: Instance, knobs: dict[str, object]) -> None:
    """The network class's arguments that are network parameters, written as their
    names, and the parameters in `root.knobs` ([(name, default), ...], spec order)."""
    for i, item in enumerate(root.variant.template.items):
        for j, name in item.knobs.items():
            root.variant.exprs[i][j] = name
    root.knobs.extend(knobs.items())


def _sites(root: Instance, changed: Instance, value: int, probe: int
           ) -> list[tuple[Item | Instance, int | None]] | None:
    """The (layer, argument index) pairs, at any depth, that are `value` here and
    `probe` there, and (call, None) for calls whose input has that many channels;
    None when the change reaches anything else (a count of layers, a value computed
    from the parameter)."""
    if len(root.items) != len(changed.items):
        return None
    sites = [(root, None)] if (root.input_channels, changed.input_channels) == \
        (value, probe) else []
    for a, b in zip(root.items, changed.items):
        if (a.attr, a.callee, a.call, len(a.args)) != (b.attr, b.callee, b.call, len(b.args)):
            return None
        if a.child is not None and fingerprint(a.child) != fingerprint(b.child):
            inner = _sites(a.child, b.child, value, probe)
            if inner is None:
                return None
            sites += inner
        for j, ((_, x), (_, y)) in enumerate(zip(a.args, b.args)):
            if x == y:
                continue
            if not (x == value and y == probe):
                return None
            sites.append((a, j))
    return sites


def _argument_name(param: str, network) -> str:
    """torchvision's name for `param` where it has one the spec does not already use."""
    spec_names = {p for p, _ in network.graph.params}
    name = TORCHVISION_ARGUMENTS.get(param, param)
    if name in spec_names and name != param:
        name = param
    return names.parameter_name(name, network.graph.output_node.span)
