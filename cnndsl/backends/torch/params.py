"""Each generated class's constructor parameters (the step after grouping, in
structure.py): for every argument of every layer, a literal where the class's calls
agree, else a parameter, named after the block argument it equals in every call
(`c`, `stride`), or `in_channels` (the block input's channels), or `arg * k`,
`arg // k`, `in_channels * t`; anything else gets a generic name.  Where a class
has several structures, the tests that pick each call's (`if t != 1:`), and where
some calls lack an optional submodule, the condition that builds it.  Every call
passes its own values, so the generated class is exact for each call by
construction.
"""

from __future__ import annotations

import re

from cnndsl.backends.torch import names
from cnndsl.backends.torch.emitters import POSITIONAL
from cnndsl.backends.torch.structure import Instance, Param, Variant, item_shape


def resolve_params(variant: Variant, avoid: frozenset[str] = frozenset(),
                   defaults: dict | None = None, switches: dict | None = None) -> None:
    """Decide, for each constructor argument of each item, a literal or a parameter.
    Parameter names never equal a name in `avoid` (the module's class names);
    `defaults` are the blocks' literal parameter defaults (Graph.block_defaults),
    `switches` the parameters their conditions test (Graph.block_switches)."""
    variant = variant.owner
    if variant.params is not None:
        return
    for inst in variant.calls:  # children first: their parameters are our arguments
        for item in inst.items:
            if item.child is not None:
                child = item.child.variant
                resolve_params(child, avoid, defaults, switches)
                k = child.calls.index(item.child)
                item.args = [(p.name if p.keyword else None, p.values[k]) for p in child.params]
                item.knobs = {n: p.knobs[k] for n, p in enumerate(child.params)
                              if p.knobs and p.knobs[k]}
    if variant.kind == "stage":
        return _resolve_stage(variant, avoid, defaults)
    params: dict = {}
    for structure in variant.structures:
        _resolve_items(structure, params, avoid)
    if len(variant.structures) > 1:
        _align_structures(variant, [p for p, _ in params.values()])
    _order_params(variant, params, defaults, (switches or {}).get(variant.block, ()))


def _align_structures(variant: Variant, params: list[Param]) -> None:
    """Where one structure writes a literal that another writes as a parameter
    expression for the same layer (`kernel_size=1` beside `kernel_size=k`), or a
    parameter other than an earlier structure's (`c` beside `in_channels`), and that
    expression gives the same values in each of its calls, write the expression: the
    structures' common lines then read alike (and are written once)."""
    calls = variant.calls
    spaces = [{p.name: p.values[k] for p in params} for k in range(len(calls))]
    knobs = {p.name for p in params if p.knobs}  # network parameters: exact where they are
    written = {}  # an item's shape -> its expressions in the structures that have one
    for structure in variant.structures:
        for item, row in zip(structure.template.items, structure.exprs):
            written.setdefault(item_shape(item), []).append(row)
    for structure in variant.structures:
        at = [calls.index(inst) for inst in structure.instances]
        for i, (item, row) in enumerate(zip(structure.template.items, structure.exprs)):
            present = [k for k, inst in zip(at, structure.instances) if not inst.items[i].absent]
            values = [inst.items[i].args for inst in structure.instances
                      if not inst.items[i].absent]
            rows = written[item_shape(item)]
            for j, expr in enumerate(row):
                if not present or expr in knobs:
                    continue
                # a literal takes any structure's expression; a parameter an earlier
                # one's (`in_channels` beside `c` where they are equal), so all agree
                literal = expr == names.literal(values[0][j][1])
                for other in rows if literal else rows[:rows.index(row)]:
                    if j < len(other) and other[j] in knobs:
                        break
                    if j < len(other) and other[j] != expr and _gives(
                            other[j], [spaces[k] for k in present], [v[j][1] for v in values]):
                        row[j] = other[j]
                        break


def _gives(expr: str, spaces: list[dict], values: list) -> bool:
    """Whether `expr` evaluates to each value in the matching parameter namespace."""
    try:
        return all(_same(eval(expr, {"__builtins__": {}}, space), v)  # noqa: S307 (ours)
                   for space, v in zip(spaces, values))
    except Exception:  # noqa: BLE001 - a None or a name another structure lacks: no
        return False


def _resolve_items(variant: Variant, params: dict, avoid: frozenset[str]) -> None:
    """One structure's arguments, item by item: a literal where the structure's calls
    agree, else a parameter (shared by the class's structures, in `params`)."""
    template = variant.template
    variant.exprs = []
    for i, item in enumerate(template.items):
        present = [inst for inst in variant.instances if not inst.items[i].absent]
        row = []
        for j, (kw, value) in enumerate(item.args):
            values = [inst.items[i].args[j][1] for inst in present]
            knobs = _knobs(variant, present, i, j)
            label = kw or item.child.variant.params[j].name if item.child else \
                kw or (POSITIONAL.get(item.callee, ())[j:j + 1] or (f"arg{j}",))[0]
            # an inline group's values are its caller's to write: a literal there, or
            # the caller's parameter where its other structures take one (in_channels)
            if variant.kind != "inline" and all(_same(v, value) for v in values) and not (
                    len(present) < len(variant.calls) and
                    _matches_argument(present, values, spatial=label.endswith(SPATIAL))) \
                    and not knobs:
                row.append(names.literal(value))
            else:
                stem = f"layer{item.attr}" if str(item.attr).isdigit() else item.attr  # 0_...
                row.append(_parameter(variant, present, params, values, f"{stem}_{label}",
                                      avoid, exact=variant.kind == "inline", knobs=knobs))
        variant.exprs.append(row)


def _knobs(variant: Variant, present: list[Instance], i: int, j: int) -> tuple:
    """Per call of the class, the network parameter item i's argument j is there
    (knobs.py), or () where it is none's: the network class writes its own."""
    if variant.template.frame is None:
        return ()
    by_call = {id(inst): inst.items[i].knobs.get(j) for inst in present}
    knobs = tuple(by_call.get(id(inst)) for inst in variant.calls)
    return knobs if any(knobs) else ()


# Layer arguments that are sizes in space, never the input's channel count, though a few
# calls may make them equal by chance (a 3x3 kernel on 3 input channels)
SPATIAL = ("kernel_size", "stride", "padding", "dilation", "output_padding")


def _matches_argument(present: list[Instance], values: list, spatial: bool) -> bool:
    """Whether an optional item's value, one for the calls that have it, is a block
    argument (`stride=stride`) or, unless it is a size in space, the input's channels
    there (`nn.Conv2d(in_channels, c, ...)`): written so, not as the literal those calls
    happen to share."""
    if not isinstance(values[0], int) or isinstance(values[0], bool) or values[0] in (0, 1):
        return False
    args = [dict(inst.frame.args) for inst in present]
    return any(all(_same(a.get(name), v) for a, v in zip(args, values)) for name in args[0]) \
        or not spatial and all(_same(inst.input_channels, v) for inst, v in zip(present, values))


def _resolve_stage(variant: Variant, avoid: frozenset[str], defaults: dict | None) -> None:
    """A stage's constructor: its number of calls, the first call's arguments and the
    others' (alike in every call of the stage, as _kind checked)."""
    params, instances = {}, variant.instances
    variant.count = _expr(variant, instances, params, [len(i.items) for i in instances],
                          "blocks", avoid)
    rest = [inst for inst in instances if len(inst.items) > 1]
    variant.exprs = []
    for position, present in ((0, instances), (1, rest)):
        item = variant.template.items[min(position, len(variant.template.items) - 1)]
        variant.exprs.append([
            _expr(variant, present, params, [inst.items[position].args[j][1] for inst in present],
                  f"{'first' if position == 0 else 'rest'}_{kw or j}", avoid,
                  _knobs(variant, present, position, j))
            for j, (kw, _) in enumerate(item.args)] if present else [])
    _order_params(variant, params, defaults)


def _expr(variant: Variant, present: list[Instance], params: dict, values: list,
          fallback: str, avoid: frozenset[str], knobs: tuple = ()) -> str:
    """A literal where every call has one value and it is no network parameter, else a
    parameter (expression)."""
    if all(_same(v, values[0]) for v in values) and not knobs:
        return names.literal(values[0])
    return _parameter(variant, present, params, values, fallback, avoid,
                      exact=bool(knobs), knobs=knobs)


def _order_params(variant: Variant, params: dict, defaults: dict | None,
                  switches: tuple[str, ...] = ()) -> None:
    """The constructor's parameters: required ones, those with the spec's defaults, then
    the flags of optional submodules no condition tells apart."""
    ordered = [p for p, _ in sorted(params.values(), key=lambda p: p[1])]
    spec_defaults = dict((defaults or {}).get(variant.block, ()))
    if len(variant.structures) > 1:
        _choose_structure(variant, ordered, switches)
    calls, flags = variant.calls, {}
    for structure in variant.structures:
        at = [calls.index(inst) for inst in structure.instances]
        for i in sorted(structure.optional):
            present = [not inst.items[i].absent for inst in structure.instances]
            condition = _condition(ordered, structure.exprs[i] or  # a merge: the block's values
                                   [e for row in structure.exprs for e in row], present, at) \
                or _argument_test(calls, ordered, present, at, switches, only_switches=True)
            if condition is not None:
                structure.conditions[i] = condition
                continue
            name = structure.switch(i)  # one flag for the structures that share the name
            flag = flags.setdefault(name, Param(name, [False] * len(calls), flag=True))
            for k, has in zip(at, present):
                flag.values[k] = has
    for p in ordered:
        if p.name in spec_defaults and isinstance(spec_defaults[p.name], (bool, int, float, str)):
            p.default, p.has_default = spec_defaults[p.name], True
        elif None in p.values:  # a layer's value only some structures build: callers
            p.has_default = True  # without it leave it out (a squeeze's channels)
    variant.params = [p for p in ordered if not p.has_default] + \
        [p for p in ordered if p.has_default] + list(flags.values())
    for structure in variant.structures:
        structure.params = variant.params


def _choose_structure(variant: Variant, params: list[Param], switches: tuple[str, ...]) -> None:
    """The tests that pick each call's structure, first to last: on one block argument
    where one fits (`stride != 1`, `nl == 'HS'`; it becomes a parameter), else in the
    constructor's parameters (`in_channels != c`), else on a `structure` number the
    caller passes.
    Forward repeats them on what the constructor kept (`self.stride`)."""
    calls, structures = variant.calls, variant.structures
    which = [k for k, s in enumerate(structures) for _ in s.instances]
    exprs = [e for s in structures for row in s.exprs for e in row]
    for k in range(len(structures) - 1):
        at = [j for j, w in enumerate(which) if w >= k]  # earlier ones are picked already
        present = [which[j] == k for j in at]
        test = _argument_test(calls, params, present, at, switches) or \
            _condition(params, exprs, present, at)
        if test is None:
            number = Param("structure", which, default=0, has_default=True)
            params.append(number)
            variant.choice = [f"structure == {n}" for n in range(len(structures) - 1)]
            break
        variant.choice.append(test)
    used = {name for test in variant.choice for name in _identifiers(test)}
    attrs = {it.attr for s in structures for it in s.template.items}
    spaces = [{p.name: p.values[j] for p in params} for j in range(len(calls))]
    # forward tests each structure on its own, so each test must hold for its calls only
    alone = all(_gives(f"not not ({test})", spaces, [w == k for w in which])
                for k, test in enumerate(variant.choice))
    kept = [p.name for p in params if p.name in used]  # in the signature's order
    if len(kept) <= 2 and not used & (attrs | names.MODULE_ATTRIBUTES) and alone:
        variant.choice_store = ([f"self.{name} = {name}" for name in kept],
                                [_on_self(test, kept) for test in variant.choice])
    else:
        picked = " else ".join(f"{k} if {test}" for k, test in enumerate(variant.choice))
        variant.choice_store = ([f"self.structure = {picked} else {len(variant.choice)}"],
                                [f"self.structure == {k}" for k in range(len(variant.choice))])


def _argument_test(calls: list[Instance], params: list[Param], present: list[bool],
                   at: list[int], switches: tuple[str, ...], only_switches: bool = False
                   ) -> str | None:
    """A test on one block argument (`t != 1`, `se`, `nl == 'HS'`, `exp != in_channels`),
    or on two the block's conditions test (`mode == 'plain' and not se`), true for
    exactly the `present` calls among those `at`; the arguments join `params` if they
    are not there.  A comparison with the input's channels comes before one with a
    value, which could single the calls out by chance (`exp == 16`)."""
    taken = {p.name: p for p in params}
    channels = taken.get("in_channels")
    # what the block's conditions test (t, nl, se) first, then what no layer reads: the
    # reason the layers differ, not a value that happens to single the calls out (c)
    args = sorted((arg for arg, _ in calls[0].frame.args
                   if arg in switches or not only_switches),
                  key=lambda a: (switches.index(a) if a in switches else len(switches),
                                 names.parameter_name(a) in taken))
    singles = []  # (spec argument, its Python name, its values per call, its tests)
    for arg in args:
        values = [dict(c.frame.args).get(arg) for c in calls]
        name = names.parameter_name(arg, calls[0].frame.span)
        if name in taken and list(map(repr, taken[name].values)) != list(map(repr, values)):
            continue  # the name means something else here
        if not all(isinstance(v, (bool, int, str)) and type(v) is type(values[0])
                   for v in values):
            continue
        if isinstance(values[0], bool):
            tests = [name, f"not {name}"]
        else:
            tests = [f"{name} {op} in_channels" for op in ("!=", "==") if channels and
                     isinstance(values[0], int) and name != "in_channels"]
            tests += [f"{name} {op} {names.literal(v)}" for v in dict.fromkeys(values)
                      for op in ("!=", "==")]
        singles.append((arg, name, values, tests))
    pairs = [((a, b), f"{x} and {y}") for i, a in enumerate(singles) for b in singles[i + 1:]
             if a[0] in switches and b[0] in switches for x in a[3] for y in b[3]]
    ones = [((one,), t) for one in singles for t in one[3]]
    switched = [case for case in ones if case[0][0][0] in switches]
    others = [case for case in ones if case[0][0][0] not in switches]
    for used, test in switched + pairs + others:
        spaces = [{"in_channels": channels and channels.values[j],
                   **{name: values[j] for _, name, values, _ in used}} for j in at]
        if _gives(f"not not ({test})", spaces, present):
            for _, name, values, _ in used:
                if name not in taken:
                    params.append(Param(name, values))
                    taken[name] = params[-1]
            return test
    return None


_IDENTIFIER = re.compile(r"\"[^\"]*\"|'[^']*'|[A-Za-z_]\w*")
_KEYWORDS = {"and", "or", "not", "True", "False", "None"}


def _identifiers(test: str) -> set[str]:
    return {m for m in _IDENTIFIER.findall(test) if m[0] not in "'\"" and m not in _KEYWORDS}


def _on_self(test: str, kept: list[str]) -> str:
    """`stride != 1` -> `self.stride != 1` (quoted text left alone)."""
    return _IDENTIFIER.sub(lambda m: f"self.{m.group(0)}" if m.group(0) in kept
                           else m.group(0), test)


def _condition(params: list[Param], exprs: list[str], present: list[bool],
               at: list[int] | None = None) -> str | None:
    """The test, in the constructor's parameters, that says which calls have an optional
    submodule: torchvision's `stride != 1 or in_channels != planes * 4` rule for a
    shortcut projection, or half of it; None when none gives `present` for every call.
    `at`: the calls' positions in the parameters' values (all of them by default)."""
    names_ = {p.name for p in params}
    outs = list(dict.fromkeys(e for e in exprs if e != "in_channels" and
                              e.split(" ")[0] in names_))
    tests = [*(f"stride != 1 or in_channels != {e}" for e in outs),
             *(f"in_channels != {e}" for e in outs), "stride != 1",
             *(f"stride == 1 and in_channels == {e}" for e in outs),  # a residual's rule
             *(f"in_channels == {e}" for e in outs), "stride == 1",
             *(f"in_channels {op} {v}" for p in params if p.name == "in_channels"  # `> 8`
               for v in sorted(set(p.values) - {None}) for op in ("<=", ">")),
             *(f"{p.name} {op} {names.literal(v)}" for p in params for op in ("!=", "==")
               for v in dict.fromkeys(p.values) if isinstance(v, int) and not isinstance(v, bool))]
    at = range(len(present)) if at is None else at
    for test in tests:
        used = set(re.findall(r"[A-Za-z_]\w*", test)) - {"or"}
        if not used <= names_:
            continue
        calls = [{p.name: p.values[k] for p in params} for k in at]
        try:
            if all(bool(eval(test, {"__builtins__": {}}, call)) == has  # noqa: S307 (ours)
                   for call, has in zip(calls, present)):
                return test
        except TypeError:  # a None where a call has no value
            continue
    return None


def _same(a, b) -> bool:
    return type(a) is type(b) and a == b


def _parameter(variant: Variant, present: list[Instance], params: dict, values: list,
               fallback: str, avoid: frozenset[str], exact: bool = False,
               knobs: tuple = ()) -> str:
    """Name the parameter that yields `values` (one per call in `present`, the calls
    that have the item); record it in `params`, keyed by name and values: two
    parameters that would share a name (a block argument `conv1_out_channels` beside
    the generic name of conv1's channels, `lambda` escaped beside `lambda_`) but
    carry different values stay two.  Its values are every call's: a block argument's
    or the input's channels, which calls without the item pass too (None for a
    generic one).  `exact`: only a value's own name, no multiple of one (an inline
    group's values, which its caller names, where a coincidence would mislead).
    `knobs`: per call, the network parameter the value is (see _knobs); such a value
    is named exactly, after the input's channels only where they follow the same
    network parameter, and is a parameter of its own (another layer's equal value
    does not follow the network parameter)."""
    instances = variant.calls
    frames = [inst.frame for inst in present]
    candidates = []  # (priority, name, signature order, values per call, suffix)
    for rank, (arg, _) in enumerate(frames[0].args):
        args = [dict(f.args).get(arg) for f in frames]
        name = names.parameter_name(arg, frames[0].span)
        every = [dict(inst.frame.args).get(arg) for inst in instances]
        if all(_same(a, v) for a, v in zip(args, values)):
            candidates.append((0, name, (1, rank), every, ""))
        elif all(isinstance(a, int) and not isinstance(a, bool) and a > 0
                 and isinstance(v, int) for a, v in zip(args, values)):
            k = values[0] // args[0]
            if k >= 2 and all(v == a * k for a, v in zip(args, values)):
                candidates.append((2, name, (1, rank), every, f" * {k}"))
            d = next((d for d in (2, 4, 8, 16, 32, 64) if all(  # a power of two: c // 9 is chance
                v == a // d for a, v in zip(args, values))), None) if values[0] > 0 else None
            if d is not None:  # half the channels, a kernel's padding (k // 2)
                candidates.append((4, name, (1, rank), every, f" // {d}"))
    channels = [inst.input_channels for inst in present]
    every = [inst.input_channels for inst in instances]
    if all(_same(c, v) for c, v in zip(channels, values)):
        candidates.append((1, "in_channels", (0, 0), every, ""))
    elif all(isinstance(c, int) and isinstance(v, int) and not isinstance(v, bool) and v > 0
             for c, v in zip(channels, values)):
        k = channels[0] // values[0]
        if k >= 2 and all(c == v * k for c, v in zip(channels, values)):
            candidates.append((3, "in_channels", (0, 0), every, f" // {k}"))
        for rank, (arg, _) in enumerate(frames[0].args):  # an expansion: in_channels * t
            args = [dict(f.args).get(arg) for f in frames]
            if all(isinstance(a, int) and not isinstance(a, bool) for a in args) and \
                    any(a > 1 for a in args) and all(v == c * a for c, a, v in
                                                     zip(channels, args, values)):
                factor = (arg, (1, rank), [dict(i.frame.args).get(arg) for i in instances])
                candidates.append((5, "in_channels", (0, 0), every, factor))
                break
    if exact:
        candidates = [c for c in candidates if c[4] == ""]
    if knobs:  # the input's channels where they follow the network parameter too
        follows = [inst.channels_knob for inst in present]
        knob_of = dict(zip(map(id, variant.calls), knobs))
        candidates = [c for c in candidates if c[1] != "in_channels" or
                      all(knob_of[id(inst)] in (None, f) for inst, f in zip(present, follows))]
    if candidates:
        _, name, order, args, suffix = min(candidates, key=lambda c: c[0])
        if isinstance(suffix, tuple):  # the factor is a parameter too
            arg, arg_order, arg_values = suffix
            suffix = " * " + _register(params, names.parameter_name(arg, frames[0].span),
                                       arg_values, arg_order, avoid)
    else:  # a network parameter keeps its name down the classes (num_classes)
        by_call = dict(zip(map(id, present), values))
        name = next((k for k in knobs if k), fallback)
        order, suffix = (2, len(params)), ""
        args = [by_call.get(id(inst)) for inst in instances]
        same = [p.name for p, (kind, _) in params.values() if kind == 2 and
                list(map(repr, p.values)) == list(map(repr, args)) and p.knobs == knobs]
        if same:  # one value under two generic names (fc1's output is fc2's input): one
            return same[0]
    return _register(params, name, args, order, avoid, knobs) + suffix


def _register(params: dict, name: str, values: list, order: tuple, avoid: frozenset[str],
              knobs: tuple = ()) -> str:
    """The parameter `name` with `values` (and `knobs`) in `params`, added if new: its
    unique name."""
    key = (name, tuple(map(repr, values)), knobs)
    if key not in params:
        taken = avoid | {p.name for p, _ in params.values()}
        unique, k = name, 2
        while unique in taken:
            unique, k = f"{name}{k}", k + 1
        params[key] = (Param(unique, list(values), knobs=knobs), order)
    return params[key][0].name
