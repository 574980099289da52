"""What a network is elaborated with: the program's constants (top-level `let`s,
evaluated once, in order) and the network's parameters (defaults, `--set`
overrides, and the values a parameter declares it allows: `depth in (20, 56) = 20`)."""

from __future__ import annotations

from dataclasses import dataclass

from cnndsl.elaborate.expressions import Environment, Evaluator, unknown_name
from cnndsl.elaborate.matching import allowed_values, check_choice
from cnndsl.elaborate.usage import referenced_names
from cnndsl.elaborate.values import unpack
from cnndsl.errors import Span, SpecError
from cnndsl.syntax import ast


def program_environment(program) -> Environment:
    """The constants and functions every expression of `program` sees."""
    env = Environment(functions=dict(program.functions))
    for let in program.constants:
        value = Evaluator({}, None, env)(let.value)
        env.constants.update(unpack(let.names, value, let.span))
    return env


def bind_network_params(net: ast.NetworkDef, overrides: dict[str, object],
                        env: Environment) -> dict[str, object]:
    names: dict[str, object] = {}
    declared = [p.name for p in net.params]
    for key in overrides:
        if key not in declared:
            raise unknown_name(key, f"parameter of network {net.name!r}", declared, net.span)
    for param in net.params:
        evaluate = Evaluator(names, None, env)
        if param.name in overrides:
            names[param.name] = overrides[param.name]
            check_choice(param, names[param.name], evaluate, param.span, "given with --set")
        elif param.default is not None:
            names[param.name] = evaluate(param.default)
            check_choice(param, names[param.name], evaluate, param.default.span)
        else:
            raise SpecError(f"network parameter {param.name!r} has no default", param.span,
                            "give it a default, e.g. `classes = 1000`")
    return names


@dataclass(frozen=True)
class Knob:
    """A network parameter as `--list-params` shows it."""

    name: str
    default: object
    choices: tuple | None  # None: any value the network accepts
    follows: tuple[str, ...]  # earlier parameters its default is computed from
    span: Span


def network_knobs(net: ast.NetworkDef, env: Environment) -> list[Knob]:
    """The parameters `--set` can change, with their defaults and allowed values."""
    names: dict[str, object] = bind_network_params(net, {}, env)
    knobs = []
    for k, p in enumerate(net.params):
        earlier = {q.name for q in net.params[:k]}
        follows = tuple(sorted(referenced_names(p.default) & earlier)) if p.default else ()
        knobs.append(Knob(p.name, names[p.name], allowed_values(p, Evaluator(names, None, env)),
                          follows, p.span))
    return knobs
