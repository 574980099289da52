"""Generated PyTorch source: golden files, standalone use, and hostile names."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

import cnndsl  # noqa: E402
from cnndsl.backends.torch import emitters, generate_source  # noqa: E402
from cnndsl.errors import Span  # noqa: E402
from cnndsl.ir.graph import Graph, Node, freeze_attrs  # noqa: E402

from conftest import ROOT, SPECS  # noqa: E402

GOLDEN = ROOT / "tests" / "golden"
TEST_SPECS = ROOT / "tests" / "specs"


def _load_relative(relpath: str, **kwargs):
    """Load with a repository-relative path, so headers do not depend on the checkout."""
    return cnndsl.loads((ROOT / relpath).read_text(), path=relpath, **kwargs)


@pytest.mark.parametrize("name", ["torch_residual", "torch_inception"])
def test_golden_source(name, update_golden):
    source = generate_source(_load_relative(f"tests/specs/{name}.cnn"))
    golden = GOLDEN / f"{name}.py"
    if update_golden:
        golden.write_text(source)
    assert source == golden.read_text(), "run pytest --update-golden after a deliberate change"


WIDE = """network wide {
  input 3x8x8
  concat { %s }
  add { %s }
}""" % ("; ".join("conv(2, 1)" for _ in range(14)), "; ".join(["relu"] + ["identity"] * 14))
FORMATTED = ([f"specs/{p.stem}.cnn" for p in sorted(SPECS.glob("*.cnn"))]
             + [f"tests/specs/{p.stem}.cnn" for p in sorted(TEST_SPECS.glob("torch_*.cnn"))])


WIDER = ("network wider {\n  input 3x8x8\n  concat { "
         + "; ".join("path { conv(2, 1) }" for _ in range(40)) + " }\n}")


@pytest.mark.parametrize("relpath", FORMATTED + ["wide", "wider", "long path"])
def test_source_is_formatted_as_black_formats_it(relpath):
    """Generated files are what `black -l 99` would make of them: lines <= 99
    (long calls, concats and sums wrapped), black's quotes and blank lines."""
    black = pytest.importorskip("black")
    if relpath == "wider":  # one argument a line, inside a list inside the call
        net = cnndsl.loads(WIDER, path="wider.cnn")
    elif relpath in ("wide", "long path"):
        path = "wide.cnn" if relpath == "wide" else "/home/" + "a_long_folder_name/" * 9 + "n.cnn"
        net = cnndsl.loads(WIDE, path=path)
    else:
        net = _load_relative(relpath)
    source = generate_source(net)
    assert source == black.format_str(source, mode=black.Mode(line_length=99))
    assert all(len(line) <= 99 for line in source.splitlines())


def test_generated_resnet18_runs_without_cnndsl(tmp_path):
    """The file needs only torch, and computes exactly what to_torch() computes."""
    net = cnndsl.load(SPECS / "resnet18.cnn", input="3x32x32")
    path = tmp_path / "resnet18_model.py"
    path.write_text(generate_source(net))
    module = net.to_torch().eval()
    torch.save(module.state_dict(), tmp_path / "weights.pt")
    x = torch.randn(2, 3, 32, 32)
    torch.save(x, tmp_path / "x.pt")
    script = (
        "import sys, runpy, torch\n"
        "sys.modules['cnndsl'] = None  # any import of cnndsl now fails\n"
        f"ns = runpy.run_path({str(path)!r})\n"
        "m = ns['Resnet18']()\n"
        f"m.load_state_dict(torch.load({str(tmp_path / 'weights.pt')!r}))\n"
        "m.eval()\n"
        "with torch.no_grad():\n"
        f"    torch.save(m(torch.load({str(tmp_path / 'x.pt')!r})), "
        f"{str(tmp_path / 'y.pt')!r})\n"
        "assert not any(k == 'cnndsl' or k.startswith('cnndsl.') for k, v in sys.modules.items()"
        " if v is not None)\n")
    subprocess.run([sys.executable, "-c", script], check=True, cwd=tmp_path, timeout=300)
    with torch.no_grad():
        assert torch.equal(torch.load(tmp_path / "y.pt"), module(x))


HOSTILE = """
block class(lambda, self = 1, x = 2, __init__ = 3) {
  conv(lambda, 3, pad=self); relu
}
block import_(forward) { class(forward); class(forward + 1) }
network nn(torch = 4) {
  input 3x8x8
  class(torch); import_(8); import_(9)
  avgpool(global); flatten; fc(torch)
}
"""


def test_hostile_spec_names_cannot_inject_code():
    net = cnndsl.loads(HOSTILE, path='evil"""\nimport os; os.system("echo pwned")\n#.cnn')
    source = generate_source(net)
    tree = ast.parse(source)
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert [ast.unparse(n) for n in imports] == ["import torch", "from torch import nn"]
    assert "os.system" not in "".join(
        line for line in source.splitlines() if not line.lstrip().startswith(("#", '"""')))
    module = net.to_torch()
    assert tuple(module(torch.randn(1, 3, 8, 8)).shape) == (1, 4)
    assert sum(p.numel() for p in module.parameters()) == net.report()["total_params"]


def _graph_with(name: str, op: str = "relu") -> cnndsl.Network:
    span = Span("hand.cnn", 2, 3)
    nodes = [Node(0, "input", "input", freeze_attrs({"shape": (3, 4, 4)}), (), (3, 4, 4), span),
             Node(1, op, name, freeze_attrs({}), (0,), (3, 4, 4), span)]
    return cnndsl.Network(Graph("hand", nodes, 1, path="hand.cnn"), [], "")


@pytest.mark.parametrize("name", ["x; import os", "relu1.__class__", "self", "relu-1", "_modules"])
def test_hostile_ir_names_are_rejected(name):
    with pytest.raises(cnndsl.SpecError):
        generate_source(_graph_with(name))


def test_op_without_emitter_names_op_and_span(monkeypatch):
    monkeypatch.delitem(emitters.EMITTERS, "relu")
    with pytest.raises(cnndsl.SpecError) as err:
        generate_source(_graph_with("relu1"))
    assert "'relu'" in str(err.value) and "hand.cnn:2:3" in str(err.value)


def test_block_called_with_different_structures_gets_correct_classes():
    net = cnndsl.load(SPECS / "resnet34.cnn", input="3x32x32")
    source = generate_source(net)
    assert "class Basic(nn.Module)" in source and "class Basic2(nn.Module)" in source
    module = net.to_torch()
    assert sum(p.numel() for p in module.parameters()) == 21797672


# Block arguments whose names collide with what the generator names on its own:
# the generic name of a layer's argument, a keyword's escape, a generated class.
COLLIDING_NAMES = {
    "generic name": """block b(conv1_out_channels, w) { conv(w + 1, 1); conv(conv1_out_channels, 1) }
network collide { input 3x4x4; b(5, 3); b(7, 10) }""",
    "escaped keyword": """block b(lambda, lambda_) { conv(lambda, 1); conv(lambda_, 1) }
network kw { input 3x4x4; b(5, 6); b(7, 9) }""",
    "class name": """block inner(c) { conv(c, 1) }
block outer(Inner) { inner(Inner) }
network shadow { input 3x4x4; outer(4); outer(6) }""",
    "module constant": """block b(INPUT_SHAPE) { conv(INPUT_SHAPE, 1) }
network constant { input 3x4x4; b(5); b(6) }""",
}


@pytest.mark.parametrize("case", sorted(COLLIDING_NAMES))
def test_colliding_argument_names_build_the_checked_network(case):
    net = cnndsl.loads(COLLIDING_NAMES[case], path=f"{case}.cnn")
    module = net.to_torch()
    assert sum(p.numel() for p in module.parameters()) == net.report()["total_params"]
    shapes = [tuple(m.weight.shape) for m in module.modules() if isinstance(m, torch.nn.Conv2d)]
    assert shapes == [(n.attrs["channels"], n.attrs["in_channels"], 1, 1)
                      for n in net.graph.nodes if n.op == "conv"]
    assert tuple(module(torch.randn(2, *net.input_shape)).shape[1:]) == net.output_shape
