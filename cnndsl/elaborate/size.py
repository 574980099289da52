"""A lower bound on the layers a network elaborates to, read from the AST alone.

Elaborating costs tens of microseconds per layer, so a spec whose blocks each
call the one before twice (2**30 layers from 30 short lines) would run for
seconds before the layer limit stops it.  This bound counts what elaboration
must build whatever the parameters are: a layer call is one layer, a block call
its body, `repeat 3` and `for` over a written tuple multiply, an `if` or a
conditional branch counts its smaller side, and whatever depends on a value
(`repeat n`) counts once.  It never overestimates, so refusing a spec whose
bound exceeds the limit refuses nothing elaboration would have built.
"""

from __future__ import annotations

from cnndsl.elaborate.program import Program
from cnndsl.elaborate.usage import binding_sites
from cnndsl.errors import SpecError
from cnndsl.limits import LAYERS
from cnndsl.ops import lookup
from cnndsl.syntax import ast

CAP = 10 ** 30  # counts stay small integers however deep the doubling goes


def check_size(program: Program, net: ast.NetworkDef) -> None:
    """SpecError at the first statement of `net` after which the network has,
    at the least, more layers than the limit."""
    counter = _Counter(program)
    total, limit = 0, LAYERS.value()
    for statement in net.body.statements:
        total = min(CAP, total + counter.statement(statement))
        if total > limit:
            raise SpecError(f"the network elaborates to at least {total:,} layers by this "
                            f"line, over the limit of {limit:,} layers", statement.span,
                            LAYERS.hint())


class _Counter:
    def __init__(self, program: Program):
        self.blocks = program.blocks
        self.tensors = set(binding_sites([*program.blocks.values(), *program.networks]))
        self.memo: dict[str, int] = {}
        self.open: set[str] = set()  # blocks being counted: recursion is an error later

    def block(self, name: str) -> int:
        if name not in self.memo:
            if name in self.open:
                return 0
            self.open.add(name)
            self.memo[name] = self.body(self.blocks[name].body)
            self.open.discard(name)
        return self.memo[name]

    def body(self, body: ast.Body | None) -> int:
        if body is None:
            return 0
        return min(CAP, sum(self.statement(s) for s in body.statements))

    def statement(self, statement: ast.Statement) -> int:
        action = statement.action
        if isinstance(action, ast.Call):
            return self.call(action)
        if isinstance(action, ast.Repeat):
            count = action.count.value if _is_count(action.count) else 1
            return min(CAP, count * self.body(action.body))
        if isinstance(action, ast.For):
            items = action.items
            count = len(items.items) if isinstance(items, ast.TupleExpr) and items.items else 1
            return min(CAP, count * self.body(action.body))
        if isinstance(action, ast.If):
            return min(self.body(action.then), self.body(action.otherwise))
        if isinstance(action, ast.Output):
            return self.body(action.body)
        if isinstance(action, ast.Merge):
            return min(CAP, sum(self.branch(b) for b in action.branches))
        return 0  # let, input

    def call(self, call: ast.Call) -> int:
        if not call.has_parens and call.name in self.tensors:
            return 0  # may read a named value
        op = lookup(call.name)
        if op is not None:
            return 1 if op.arity == 1 else 0
        return self.block(call.name) if call.name in self.blocks else 0

    def branch(self, branch) -> int:
        if isinstance(branch, ast.Body):
            return self.body(branch)
        if isinstance(branch, ast.Statement):
            return self.statement(branch)
        if branch.condition is None:
            return self.body(branch.body)
        otherwise = self.branch(branch.otherwise) if branch.otherwise is not None else 0
        return min(self.body(branch.body), otherwise)


def _is_count(expr) -> bool:
    return (isinstance(expr, ast.Literal) and isinstance(expr.value, int)
            and not isinstance(expr.value, bool) and expr.value >= 1)
