"""Elaboration: evaluate a network definition into a flat, shape-checked IR graph.

Shapes are inferred while the graph is built, because the language lets a
statement depend on the shape of its input (`in.channels`, conditions).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

from cnndsl.elaborate.arguments import CallSite, bind_block_args, bind_op_args
from cnndsl.elaborate.builder import GraphBuilder
from cnndsl.elaborate.chain import merge_repeated, note_call
from cnndsl.elaborate.defaults import Setting, Settings, read_defaults, unused_defaults
from cnndsl.elaborate.expressions import Evaluator, shape_value, unknown_name
from cnndsl.elaborate.labels import declared_labels
from cnndsl.elaborate.late import Late, late_error, resolve_late
from cnndsl.elaborate.outputs import (check_head_place, check_head_result, check_new_name,
                                      head_frame, head_weight, main_output_name, note_head)
from cnndsl.elaborate.parameters import (Knob, bind_network_params, network_knobs,
                                         program_environment)
from cnndsl.elaborate.program import Program
from cnndsl.elaborate.size import check_size
from cnndsl.elaborate.usage import (binding_sites, switch_parameters, unused_named_values,
                                    unused_parameters)
from cnndsl.elaborate.values import Table, items_of, unpack
from cnndsl.errors import Diagnostic, Span, SpecError
from cnndsl.ir.graph import (MAIN_OUTPUT, Graph, Head, Node, ScopeFrame, Shape,
                             format_shape)
from cnndsl.limits import STEPS
from cnndsl.ops import OPS, lookup
from cnndsl.ops.args import show
from cnndsl.ops.registry import NamedTensor
from cnndsl.syntax import ast


class Unfinished(Exception):
    """Elaboration reached code that error recovery could not read (an editor's
    half-typed line, cnndsl.syntax.recover): it stops there, with no error of its
    own, since the syntax error is already reported."""

    def __init__(self, span: Span):
        super().__init__(str(span))
        self.span = span


@dataclass
class Context:
    """What a statement can see: parameters and lets (with where each let was
    computed), named tensors, the layer defaults in force, its block scope."""

    names: dict[str, object]
    tensors: dict[str, int]
    scope: tuple[ScopeFrame, ...] = ()
    calls: tuple[ast.BlockDef, ...] = field(default=())
    defaults: Settings = field(default_factory=dict)
    origins: dict[str, Span] = field(default_factory=dict)
    block: tuple[str, int] | None = None  # innermost block call: (name, block.index)

    def child(self) -> "Context":
        return Context(dict(self.names), dict(self.tensors), self.scope, self.calls,
                       self.defaults, dict(self.origins), self.block)


class Elaborator:
    def __init__(self, program: Program):
        self.program = program
        self.env = program_environment(program)
        self.builder = GraphBuilder()
        self.called: dict[str, ast.BlockDef] = {}  # blocks the network uses
        self.settings: list[Setting] = []  # every `defaults` argument, for unused ones
        self.block_calls: Counter = Counter()  # calls per block: block.count
        self.heads: list[Head] = []  # `output NAME { ... }`, in the order they run
        self.main_output = MAIN_OUTPUT

    # ---- entry ----
    def network(self, net: ast.NetworkDef, input_shape: Shape | None,
                overrides: dict[str, object]) -> Graph:
        names = bind_network_params(net, overrides, self.env)
        ctx = Context(dict(names), {})  # its lets are not the network's parameters
        statements, self.main_output = main_output_name(list(net.body.statements))
        while statements and isinstance(statements[0].action, ast.Let):  # `input (3, s, s)`
            self._Let(statements.pop(0).action, None, ctx)
        declared, input_bind = None, None
        if statements and isinstance(statements[0].action, ast.InputDecl):
            decl, input_bind = statements[0].action, statements.pop(0)
            declared = shape_value(Evaluator(ctx.names, None, self.env)(decl.shape),
                                   decl.shape.span)
        shape = input_shape or declared
        late = [st for st in statements if isinstance(st.action, ast.InputDecl)]
        if late:
            raise SpecError("`input` must be the first line of a network", late[0].span,
                            "move it above the first layer (only `let`s may come before it)")
        if shape is None:
            raise SpecError(f"network {net.name!r} declares no input size", net.span,
                            "add e.g. `input 3x224x224` as its first line, or pass --input")
        self._check_layout(shape, None if input_shape else  # None: it came from --input
                           input_bind.span if input_bind else net.span)
        self.builder.open_scope("", declared_labels(statements) | {"input"})
        current = self.builder.add(OPS["input"], {"shape": shape}, [], net.span, (),
                                   name="input")
        if input_bind is not None and input_bind.bind:
            self._bind(input_bind, current, ctx)
        for statement in statements:
            current = self.statement(statement, current, ctx)
        return Graph(name=net.name, nodes=self.builder.nodes, output=current,
                     params=tuple(names.items()), path=self.program.path,
                     heads=tuple(self.heads), output_name=self.main_output,
                     block_defaults={name: tuple((p.name, p.default.value) for p in block.params
                                                 if isinstance(p.default, ast.Literal))
                                     for name, block in self.called.items()},
                     block_switches={name: switch_parameters(block)
                                     for name, block in self.called.items()})

    def warnings(self) -> list[Diagnostic]:
        """The warnings so far: the layers' own (once per line, with their call
        chains) and the `defaults` nothing used."""
        builder = self.builder
        scoped = [(w, builder.warning_scopes.get(i, ())) for i, w in enumerate(builder.warnings)]
        return [*merge_repeated(scoped, self.program.blocks), *unused_defaults(self.settings)]

    def _check_layout(self, shape: Shape, span: Span | None) -> None:
        """Sizes are CxHxW; 224x224x3 is almost surely an image written channels last."""
        if len(shape) == 3 and shape[2] <= 4 and min(shape[0], shape[1]) >= 16:
            flipped = format_shape((shape[2], shape[0], shape[1]))
            self.builder.warnings.append(Diagnostic(
                "warning", f"the input {format_shape(shape)} has {shape[0]} channels of "
                f"{shape[1]}x{shape[2]} pixels", span,
                f"sizes are channels x height x width: did you mean {flipped}?"))

    # ---- statements ----
    def body(self, body: ast.Body, current: int, ctx: Context) -> int:
        inner = ctx.child()
        for statement in body.statements:
            current = self.statement(statement, current, inner)
        return current

    def statement(self, st: ast.Statement, current: int, ctx: Context) -> int:
        self.builder.step(st.span)
        handler = getattr(self, "_" + type(st.action).__name__)
        if st.bind and isinstance(st.action, (ast.Let, ast.Defaults, ast.Output)):
            made = {ast.Let: "`let` makes a number", ast.Defaults: "`defaults` makes none",
                    ast.Output: "an output head passes its input on"}[type(st.action)]
            raise SpecError(f"`-> {st.bind}` names a tensor, and {made}", st.span,
                            f"bind the tensor after a layer, e.g. `conv(64, 3) -> {st.bind}`, "
                            f"or `identity -> {st.bind}` for the current one")
        if st.label is not None:
            result = self._labelled(st, current, ctx)
        else:
            result = handler(st.action, current, ctx)
        if st.bind:
            self._bind(st, result, ctx)
        return result

    def _bind(self, st: ast.Statement, result: int, ctx: Context) -> None:
        if lookup(st.bind) or st.bind in self.program.blocks or st.bind == "identity":
            raise SpecError(f"cannot name a tensor {st.bind!r}: that is a layer or block",
                            st.span, "pick another name")
        ctx.tensors[st.bind] = result

    def _labelled(self, st: ast.Statement, current: int, ctx: Context) -> int:
        """A labelled statement: a layer or block call of that name, or a group."""
        action, label = st.action, st.label
        if isinstance(action, (ast.Let, ast.Defaults, ast.InputDecl)):
            raise SpecError(f"{_shown(label)} names nothing: `{_keyword(action)}` makes "
                            f"no layer", label.span,
                            "label a layer, a block call, a group `NAME: { ... }` or a "
                            "repeat, loop, `if` or merge")
        if isinstance(action, ast.Call):
            return self._Call(action, current, ctx, label)
        if isinstance(action, ast.Output):
            return self._Output(action, current, ctx, label)
        handler = getattr(self, "_" + type(action).__name__)
        return self._group(label, action, ctx, lambda inner: handler(action, current, inner))

    def _group(self, label: ast.Label, node, ctx: Context, run) -> int:
        """Run `run(inner context)` in a scope named by `label` (a group frame)."""
        prefix = ctx.scope[-1].name if ctx.scope else ""
        name = self.builder.label_name(prefix, label, "sequential")
        self.builder.open_scope(name, declared_labels([node]), label.sequential)
        frame = ScopeFrame(block=label.name or "sequential", name=name, args=(),
                           span=label.span, group=True)
        # a group names layers; what it binds and computes is the enclosing body's
        inner = Context(ctx.names, ctx.tensors, (*ctx.scope, frame), ctx.calls, ctx.defaults,
                        ctx.origins, ctx.block)
        return run(inner)

    def _Group(self, group: ast.Group, current: int, ctx: Context) -> int:
        return self.body(group.body, current, ctx)

    def _InputDecl(self, decl: ast.InputDecl, current: int, ctx: Context) -> int:
        raise SpecError("`input` may only appear as the first line of a network", decl.span)

    def _Let(self, let: ast.Let, current: int | None, ctx: Context) -> int | None:
        evaluate = Evaluator(ctx.names, None, self.env) if current is None \
            else self._evaluator(current, ctx)
        values = unpack(let.names, evaluate(let.value), let.span)
        ctx.names.update(values)
        ctx.origins.update(dict.fromkeys(values, let.span))
        return current

    def _Defaults(self, stmt: ast.Defaults, current: int, ctx: Context) -> int:
        ctx.defaults = read_defaults(stmt, self._evaluator(current, ctx), ctx.defaults,
                                     self.program.blocks, self.settings)
        return current

    def _Output(self, out: ast.Output, current: int, ctx: Context,
                label: ast.Label | None = None) -> int:
        """A side branch from `current` ending in a named output; the main path goes on
        from `current` (cnndsl.elaborate.outputs).  A label names the head's layers'
        scope (`AuxLogits: output aux ...`: torchvision's module, the output `aux`)."""
        check_head_place(out, ctx.scope)
        check_new_name(out.name, out.name_span, self.heads, self.main_output)
        weight = head_weight(out, self._evaluator(current, ctx))
        name = out.name if label is None or label.name is None else \
            self.builder.label_name("", label, "output")
        self.builder.open_scope(name, declared_labels(out.body.statements),
                                label is not None and label.sequential)
        inner = ctx.child()  # the head sees the network's parameters, lets and tensors
        inner.scope = (head_frame(out, weight, name),)
        try:
            result = self.body(out.body, current, inner)
        except SpecError as exc:
            note_head(exc, out, self.builder.nodes[current].shape)
            raise
        check_head_result(out, result, current)
        self.heads.append(Head(out.name, result, current, out.span, weight,
                               None if name == out.name else name))
        return current

    def _If(self, stmt: ast.If, current: int, ctx: Context) -> int:
        if self._evaluator(current, ctx).condition(stmt.condition):
            return self.body(stmt.then, current, ctx)
        if stmt.otherwise is not None:
            return self.body(stmt.otherwise, current, ctx)
        return current

    def _Repeat(self, rep: ast.Repeat, current: int, ctx: Context) -> int:
        count = self._eval(rep.count, current, ctx)
        if isinstance(count, Late):
            raise late_error(count, "a repeat count", rep.count.span)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise SpecError(f"repeat count must be a positive whole number, got {show(count)}",
                            rep.count.span, "to leave a stage out, use `if` instead")
        if count > self.builder.max_steps:
            raise SpecError(f"repeat {count:,} is far beyond any real network "
                            f"(the limit is {self.builder.max_steps:,})", rep.count.span,
                            STEPS.hint())
        for i in range(count):
            inner = ctx.child()
            if rep.index:
                inner.names[rep.index] = i
            current = self.body(rep.body, current, inner)
        return current

    def _For(self, loop: ast.For, current: int, ctx: Context) -> int:
        items = self._eval(loop.items, current, ctx)
        if isinstance(items, Late):
            raise late_error(items, "for", loop.items.span)
        if not isinstance(items, (tuple, Table)) or not items:
            raise SpecError(f"for needs a tuple of values to go through, got {show(items)}",
                            loop.items.span, "e.g. `for c in (64, 128, 256) { ... }`; "
                            "to repeat a body n times, use `repeat n`")
        for item in items_of(items, loop.items.span, "for"):
            inner = ctx.child()
            inner.names.update(unpack(loop.names, item, loop.items.span))
            current = self.body(loop.body, current, inner)
        return current

    def _Merge(self, merge: ast.Merge, current: int, ctx: Context) -> int:
        outputs = [out for branch in merge.branches
                   if (out := self.branch(branch, current, ctx)) is not None]
        if not outputs:
            raise SpecError(f"every branch of this {merge.kind} is switched off", merge.span)
        if len(outputs) == 1:
            return outputs[0]
        return self.builder.add(OPS[merge.kind], {}, outputs, merge.span, ctx.scope)

    def branch(self, branch, current: int, ctx: Context) -> int | None:
        if isinstance(branch, ast.Body):
            return self.body(branch, current, ctx)
        if isinstance(branch, ast.Statement):
            return self.statement(branch, current, ctx.child())
        start = current
        if branch.source is not None:
            if branch.source not in ctx.tensors:
                raise self._unseen(branch.source, ctx, branch.span) or unknown_name(
                    branch.source, "tensor", ctx.tensors, branch.span)
            start = ctx.tensors[branch.source]
        if branch.condition is not None and not self._evaluator(start, ctx).condition(
                branch.condition):
            if branch.otherwise is None:
                return None
            return self.branch(branch.otherwise, current, ctx)
        if branch.label is not None:
            return self._group(branch.label, branch.body, ctx,
                               lambda inner: self.body(branch.body, start, inner))
        return self.body(branch.body, start, ctx)

    def _Call(self, call: ast.Call, current: int, ctx: Context,
              label: ast.Label | None = None) -> int:
        name = call.name
        if name == ast.BROKEN:
            raise Unfinished(call.span)
        if label is not None and (name == "identity" or not call.has_parens and
                                  name in ctx.tensors):
            raise SpecError(f"{_shown(label)} names nothing: `{name}` makes no layer",
                            label.span, "label a layer or a block call")
        if not call.has_parens and name in ctx.tensors:
            return ctx.tensors[name]
        if name == "identity":
            if call.args or call.keywords:
                raise SpecError("identity takes no arguments", call.span)
            return current
        op = lookup(name)
        if op is not None and op.arity == 1:
            site = CallSite(self._evaluator(current, ctx), ctx.defaults, ctx.origins,
                            self._named_tensor, ctx)
            attrs = bind_op_args(op, call, site)
            if label is not None and label.sequential:
                raise SpecError(f"`{_shown(label, quoted=False)}` numbers the layers of a "
                                f"group, and `{name}` is one layer", label.span,
                                f"write `{label.name}: {name}(...)`" if label.name else
                                f"write `{name}(...)`")
            node_name = None if label is None else self.builder.label_name(
                ctx.scope[-1].name if ctx.scope else "", label, op.name)
            return self.builder.add(op, attrs, [current], call.span, ctx.scope, node_name)
        block = self.program.blocks.get(name)
        if block is not None and block.body.statements and \
                getattr(block.body.statements[0].action, "name", None) == ast.BROKEN:
            raise Unfinished(call.span)  # its header could not be read: its parameters neither
        if block is not None:
            self.called.setdefault(block.name, block)
            return self._call_block(block, call, current, ctx, label)
        candidates = [*(n for n, o in OPS.items() if o.arity == 1), "identity",
                      *self.program.blocks, *ctx.tensors]
        raise self._unseen(name, ctx, call.span) or unknown_name(
            name, "layer or block", candidates, call.span)

    def _named_tensor(self, ref: ast.NameRef, ctx: Context) -> NamedTensor:
        if ref.name not in ctx.tensors:
            raise self._unseen(ref.name, ctx, ref.span) or unknown_name(
                ref.name, "tensor", ctx.tensors, ref.span)
        return NamedTensor(ref.name, self.builder.nodes[ctx.tensors[ref.name]].shape)

    def _unseen(self, name: str, ctx: Context, span: Span) -> SpecError | None:
        """The error for a named value used where its binding cannot be seen."""
        sites = binding_sites([*self.program.blocks.values(), *self.program.networks])
        if name not in sites:
            return None
        return SpecError(f"named value {name!r} is not visible here", span,
                         "a named value can be read after the line that binds it, in the same "
                         "block or network (including merges and repeats nested below); "
                         "a block's own input is `identity -> NAME` as its first line",
                         notes=((sites[name], f"{name!r} is bound here"),))

    def _call_block(self, block: ast.BlockDef, call: ast.Call, current: int,
                    ctx: Context, label: ast.Label | None = None) -> int:
        if any(b is block for b in ctx.calls):  # identity: == would compare whole ASTs
            chain = " -> ".join(b.name for b in (*ctx.calls, block))
            raise SpecError(f"block {block.name!r} calls itself ({chain})", call.span,
                            "blocks cannot be recursive; use `repeat` for repetition",
                            notes=((block.span, f"{block.name!r} is defined here"),))
        shape = self.builder.nodes[current].shape
        index = self.block_calls[block.name]
        self.block_calls[block.name] += 1
        names = bind_block_args(block, call, self._evaluator(current, ctx), shape, index)
        prefix = ctx.scope[-1].name if ctx.scope else ""
        name = self.builder.local_name(prefix, block.name, span=call.span) if label is None else \
            self.builder.label_name(prefix, label, block.name)
        self.builder.open_scope(name, declared_labels(block.body.statements),
                                label is not None and label.sequential)
        frame = ScopeFrame(block=block.name, name=name, args=tuple(names.items()),
                           span=call.span, label=label.name if label else None)
        # a block sees its own arguments, and the caller's layer defaults (like arg_scope)
        inner = Context(names, {}, (*ctx.scope, frame), (*ctx.calls, block), ctx.defaults,
                        block=(block.name, index))
        try:
            for statement in block.body.statements:
                current = self.statement(statement, current, inner)
        except SpecError as exc:
            note_call(exc, block, names, call.span, frame.label)
            raise
        return current

    # ---- helpers ----
    def _evaluator(self, current: int, ctx: Context) -> Evaluator:
        return Evaluator(ctx.names, self.builder.nodes[current].shape, self.env, ctx.block)

    def _eval(self, expr, current: int, ctx: Context):
        return self._evaluator(current, ctx)(expr)


def _shown(label: ast.Label, quoted: bool = True) -> str:
    """How a message names a label: `label 'layer1'`, or as written, `features: sequential`."""
    if quoted and label.name is not None:
        return f"label {label.name!r}"
    if label.name is None:
        return "`sequential`" if quoted else "sequential"
    return f"{label.name}: sequential" if label.sequential else f"{label.name}:"


def _keyword(action) -> str:
    return {ast.Let: "let", ast.Defaults: "defaults", ast.InputDecl: "input"}[type(action)]


def elaborate(program: Program, input_shape: Shape | None = None,
              overrides: dict[str, object] | None = None,
              network: str | None = None) -> tuple[Graph, list[Diagnostic]]:
    net = pick_network(program, network)
    check_size(program, net)  # an exponential spec is refused before it is built
    elaborator = Elaborator(program)
    graph = elaborator.network(net, input_shape, overrides or {})
    return finish(elaborator, net, graph)


def finish(elaborator: Elaborator, net: ast.NetworkDef, graph: Graph,
           lint=lambda definition: True) -> tuple[Graph, list[Diagnostic]]:
    """A finished elaboration's graph with its late values computed and without its
    dead layers, and all its warnings (unused parameters and named values for the
    definitions `lint` accepts)."""
    graph = resolve_late(graph, elaborator.block_calls)
    graph, dead = prune_dead(graph)
    unused = [w for definition in (net, *elaborator.called.values()) if lint(definition)
              for check in (unused_parameters, unused_named_values) for w in check(definition)]
    return graph, [*elaborator.warnings(), *dead, *unused]


def knobs(program: Program, network: str | None = None) -> tuple[str, list[Knob]]:
    """The network's name and the parameters `--set` can change (`check --list-params`)."""
    net = pick_network(program, network)
    return net.name, network_knobs(net, program_environment(program))


def pick_network(program: Program, name: str | None) -> ast.NetworkDef:
    nets = program.networks
    if name is not None:
        for net in nets:
            if net.name == name:
                return net
        raise unknown_name(name, "network", [n.name for n in nets], None)
    if not nets:
        raise SpecError(f"{program.path} defines no network", Span(program.path, 1, 1),
                        "add `network NAME { input 3x224x224 ... }`; files with only blocks "
                        "are libraries to import")
    if len(nets) > 1:
        raise SpecError(f"{program.path} defines {len(nets)} networks; a spec holds one",
                        nets[1].span, notes=((nets[0].span, "the first is here"),))
    return nets[0]


def prune_dead(graph: Graph) -> tuple[Graph, list[Diagnostic]]:
    """Drop layers whose result never reaches the output, with a warning each."""
    live = [False] * len(graph.nodes)
    live[graph.output] = live[0] = True
    for head in graph.heads:
        live[head.node] = True
    for node in reversed(graph.nodes):
        if live[node.id]:
            for i in node.inputs:
                live[i] = True
    if all(live):
        return graph, []
    dead: dict[Span, list[Node]] = {}  # one warning per source line, naming every layer
    for node in graph.nodes:
        if not live[node.id]:
            dead.setdefault(node.span, []).append(node)
    warnings = []
    for span, nodes_here in dead.items():
        names = ", ".join(f"{n.name} ({format_shape(n.shape)})" for n in nodes_here[:4])
        more = f" and {len(nodes_here) - 4} more" if len(nodes_here) > 4 else ""
        verb = "never reaches" if len(nodes_here) == 1 else "never reach"
        warnings.append(Diagnostic(
            "warning", f"{names}{more} {verb} the network output and "
            f"{'is' if len(nodes_here) == 1 else 'are'} left out", span,
            "use its result in a merge, or delete it"))
    renumber = {}
    nodes = []
    for node in graph.nodes:
        if live[node.id]:
            renumber[node.id] = len(nodes)
            nodes.append(replace(node, id=renumber[node.id],
                                 inputs=tuple(renumber[i] for i in node.inputs)))
    heads = tuple(replace(h, node=renumber[h.node], tap=renumber[h.tap]) for h in graph.heads)
    return replace(graph, nodes=nodes, output=renumber[graph.output], heads=heads), warnings
