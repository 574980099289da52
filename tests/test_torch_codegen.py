"""Generated PyTorch source: golden files, standalone use, and hostile names."""

from __future__ import annotations

import ast
import re
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

import cnndsl  # noqa: E402
from cnndsl.backends.torch import emitters, generate_source  # noqa: E402
from cnndsl.errors import Span  # noqa: E402
from cnndsl.ir.graph import HEAD_BLOCK, Graph, Node, freeze_attrs  # noqa: E402

from conftest import ROOT, SPECS, ZOO  # noqa: E402

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


def test_block_with_an_optional_shortcut_is_one_class():
    """basic(64) has an identity shortcut, basic(128, stride=2) a projection: one class,
    whose downsample is None where the spec's `path if` is off (torchvision's rule,
    measured on every call), and the module is still exact."""
    net = cnndsl.load(SPECS / "resnet34.cnn", input="3x32x32")
    source = generate_source(net)
    assert "class Basic(nn.Module)" in source and "class Basic2" not in source
    assert "        if stride != 1 or in_channels != c:\n" in source
    assert "            self.downsample = None\n" in source
    assert "        if self.downsample is not None:\n            x = self.downsample(x)\n" in source
    module = net.to_torch()
    assert sum(p.numel() for p in module.parameters()) == 21797672
    assert module.layer1[0].downsample is None and module.layer2[0].downsample is not None


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


# Generated like torchvision's resnet.py and googlenet.py: one class per block definition
# the network uses (a ResNet's block and stage, GoogLeNet's conv_bn and inception), then
# the network's; labelled groups of layers are nn.Sequential(...) where they are used.
SHAPED = {"resnet18": ["Basic", "BasicStage", "Resnet18"],
          "resnet50": ["Bottleneck", "BottleneckStage", "Resnet50"],
          "googlenet": ["ConvBn", "InceptionTv", "Googlenet"]}


@pytest.mark.parametrize("name", sorted(SHAPED))
def test_torchvision_shaped_golden(name, update_golden, tmp_path):
    black = pytest.importorskip("black")
    net = _load_relative(f"specs/{name}.cnn")
    source = generate_source(net)
    golden = GOLDEN / f"torch_{name}.py"
    if update_golden:
        golden.write_text(source)
    assert source == golden.read_text(), "run pytest --update-golden after a deliberate change"
    tree = ast.parse(source)
    classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
    assert classes == SHAPED[name]  # the blocks the spec calls, and the network
    used = {f.block for n in net.graph.nodes for f in n.scope if not f.group}
    assert len(classes) == len(used) + 1
    network = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == classes[-1])
    init = next(f for f in network.body if isinstance(f, ast.FunctionDef))
    assert [ast.unparse(a) for a in init.args.args] == ["self", "num_classes"]
    assert [ast.unparse(d) for d in init.args.defaults] == ["1000"]
    imports = [ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert imports == ["import torch", "from torch import nn"]
    assert source == black.format_str(source, mode=black.Mode(line_length=99))
    # standalone, in a fresh interpreter: built with another class count, it runs
    path = tmp_path / f"{name}_model.py"
    path.write_text(source)
    script = (f"import runpy, sys, torch\nsys.modules['cnndsl'] = None\n"
              f"ns = runpy.run_path({str(path)!r})\n"
              f"m = ns[{classes[-1]!r}](num_classes=10).eval()\n"
              f"print(tuple(m(torch.randn(1, 3, 64, 64)).shape))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(1, 10)"


def test_stage_classes_are_sequential_loops_with_the_block_count():
    """resnet50's four stages are one class, an nn.Sequential built by a loop over its
    block count (torchvision's _make_layer), and its modules are indexable."""
    net = cnndsl.load(SPECS / "resnet50.cnn", input="3x32x32")
    source = generate_source(net)
    assert "class BottleneckStage(nn.Sequential):" in source
    assert "        for _ in range(1, n):\n            layers.append(Bottleneck(c * 4, c))\n" \
        in source
    assert "self.layer3 = BottleneckStage(512, n=6, c=256, stride=2)" in source
    module = net.to_torch()
    assert isinstance(module.layer3, torch.nn.Sequential) and len(module.layer3) == 6
    assert module.layer1[0].downsample is not None and module.layer1[1].downsample is None


def test_cifar_resnet20_is_one_block_class_with_its_option_a_shortcut_optional():
    """The issue's first example: resnet20 for CIFAR was BasicStage2/3/4-style classes,
    one per shortcut width; now cifar_basic is one class whose shortcut (a 1x1 max pool
    and ChannelPad) is None where stride is 1, and the network takes `num_classes`."""
    net = cnndsl.load(SPECS / "resnet_cifar.cnn")
    source = generate_source(net)
    classes = [n.name for n in ast.parse(source).body if isinstance(n, ast.ClassDef)]
    assert classes == ["ChannelPad", "CifarBasic", "ResnetCifar"]
    assert "self.pad_channels1 = ChannelPad(in_channels // 2, in_channels // 2)" in source
    assert "def __init__(self, num_classes=10):" in source
    module = net.to_torch()
    assert sum(p.numel() for p in module.parameters()) == 269_722  # He et al.: 0.27M
    assert module.cifar_basic1.pad_channels1 is None
    assert module.cifar_basic4.pad_channels1 is not None


def test_an_optional_residual_add_is_a_switch_on_one_class():
    """MobileNetV2's inverted residual adds its input only where the block keeps the
    shape (`path if stride == 1 and in.channels == c`): the calls with and without the
    add are one class, as torchvision's use_res_connect, and the module stays exact."""
    net = cnndsl.load(SPECS / "mobilenet_v2.cnn", input="3x32x32")
    source = generate_source(net)
    block = source.split("class Inverted(nn.Module):")[1].split("\nclass ")[0]
    assert "            self.residual = in_channels == c\n" in block
    assert "        if self.residual:\n            out = out + x\n" in block
    assert "class Inverted2" not in source
    module = net.to_torch()
    switches = [m.residual for m in module.modules() if hasattr(m, "residual")]
    assert switches.count(True) == 10 and switches.count(False) == 6  # torchvision's 10 adds


def test_blocks_with_growing_drop_rates_are_not_looped_as_alike():
    """A stage whose blocks' drop rates grow with their index (the linear rule) has no
    two blocks alike: it is not a loop of one call, and every rate reaches the module."""
    net = cnndsl.loads("""
import "lib/stochastic_depth.cnn"
network n {
  input 3x8x8
  conv(4, 3, pad=1)
  stage: sequential repeat 4 { basic_sd(4, survival_last=0.5) }
  avgpool(global); flatten; fc(2)
}""", path=str(SPECS / "n.cnn"))
    source = generate_source(net)
    assert "range(1," not in source and "(nn.Sequential)" not in source
    module = net.to_torch()
    rates = [m.p for m in module.modules() if type(m).__name__ == "StochasticDepth"]
    assert rates == pytest.approx([0.125, 0.25, 0.375, 0.5])


@pytest.mark.parametrize("name", ZOO)
def test_one_class_per_block_definition_over_the_zoo(name):
    """Every block the spec calls is one generated class, whatever its calls build
    (MobileNetV3's bneck with and without expansion, SE, residual; ShuffleNet's unit
    with stride 2 or 1); the modules' exactness is the twin and ONNX parity tests'."""
    net = cnndsl.load(SPECS / f"{name}.cnn")
    source = generate_source(net)
    documented = [ast.get_docstring(n) or "" for n in ast.parse(source).body
                  if isinstance(n, ast.ClassDef)]
    blocks = [doc.split("``")[1] for doc in documented if doc.startswith("Block ``")]
    used = {f.block for n in net.graph.nodes for f in n.scope
            if not f.group and f.block != HEAD_BLOCK}
    assert sorted(blocks) == sorted(used)
    assert "Structure 2 of" not in source


def test_a_layer_named_like_a_module_method_is_an_error_at_its_label():
    """`train: conv(...)` would hide nn.Module.train (model.train() would call a conv)."""
    net = cnndsl.loads("network n {\n  input 3x8x8\n  train: conv(4, 3)\n}")
    with pytest.raises(cnndsl.SpecError, match="clashes with a name nn.Module uses") as caught:
        generate_source(net)
    assert caught.value.span.line == 3


def test_structures_of_one_block_are_picked_by_the_arguments_its_conditions_read():
    """tests/specs/onnx_structures.cnn: `unit`'s calls build three sets of layers; the
    one class picks them by `mode` and `se` (what the spec's `if`s test), builds the
    shared conv once, and forward keeps the two arguments to run the picked layers.
    ONNX parity checks the module's outputs; here, the text and a fresh build."""
    net = cnndsl.load(ROOT / "tests" / "specs" / "onnx_structures.cnn")
    source = generate_source(net)
    unit = source.split("class Unit(nn.Module):")[1].split("\nclass ")[0]
    assert "def __init__(self, in_channels, c, mode=\"plain\", se=False):" in unit
    assert unit.count("self.conv1 = nn.Conv2d(in_channels, c, kernel_size=3") == 1
    assert 'if mode == "plain" and not se:' in unit and 'if self.mode == "plain" and not self.se:' in unit
    assert 'if mode == "bn":\n                self.bn1 = nn.BatchNorm2d(c)' in unit
    assert "if in_channels <= 8:" in source  # widen's `in.channels > 8`, as a threshold
    scope = {}
    exec(compile(source, "<generated>", "exec"), scope)
    built = scope["Unit"](8, 8, mode="bn", se=True)
    assert built.bn1 is not None and built.conv2 is not None and built.gated
    plain = scope["Unit"](3, 8)
    assert not hasattr(plain, "bn1") and isinstance(plain.relu1, torch.nn.ReLU)
    assert built(torch.randn(1, 8, 4, 4)).shape == (1, 8, 4, 4)


def test_a_layer_only_some_structures_build_is_a_parameter_calls_without_it_leave_out():
    """MobileNetV3's squeeze-and-excitation exists in the `Bneck` calls with se=True:
    its channels are a parameter that defaults to None, passed by those calls only."""
    source = generate_source(cnndsl.load(SPECS / "mobilenet_v3_large.cnn"))
    bneck = source.split("class Bneck(nn.Module):")[1].split("\nclass ")[0]
    squeeze = re.search(r"SeHard\(c=exp, \w+=(\w+)\)", bneck).group(1)
    assert f"{squeeze}=None):" in bneck
    calls = [{k.arg: ast.literal_eval(k.value) for k in node.keywords}
             for node in ast.walk(ast.parse(source))
             if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Bneck"]
    assert len(calls) == 15 and sum(call["se"] for call in calls) == 8
    assert all((squeeze in call) == call["se"] for call in calls)


def test_module_attributes_are_every_public_name_of_nn_module():
    """names.MODULE_ATTRIBUTES is written out (names.py needs no torch): it must stay
    nn.Module's public names in the installed torch, or a label could hide a method."""
    from cnndsl.backends.torch.names import MODULE_ATTRIBUTES
    public = {n for n in dir(torch.nn.Module()) if not n.startswith("_")}
    assert public <= MODULE_ATTRIBUTES
