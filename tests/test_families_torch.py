"""The family specs compute what torchvision computes, with torchvision's weights.

Equality runs on a few variants at small inputs (parameter counts cover every
variant, in tests/test_families.py, against tests/data/families.json, which the
first test here rebuilds from torchvision).  The stress regime (float64, He-scaled
weights, random biases and batch-norm statistics, inputs times 4) runs one variant
per family, and a mutated spec must fail it."""

from __future__ import annotations

import inspect
import re
from functools import partial

import pytest

torch = pytest.importorskip("torch")
models = pytest.importorskip("torchvision.models")
from torchvision.models.regnet import BlockParams, RegNet  # noqa: E402

import cnndsl  # noqa: E402
from cnndsl.backends.torch import load_weights  # noqa: E402

from conftest import SPECS  # noqa: E402
from test_families import FAMILIES, regnet_stages  # noqa: E402
from test_torch_backend import randomize  # noqa: E402

nn = torch.nn


def regnet_settings() -> dict[str, dict]:
    """torchvision's from_init_params arguments for each regnet_* builder, read from
    its source (they are not exposed otherwise)."""
    source = inspect.getsource(models.regnet)
    found = re.findall(r"def regnet_(\w+)\(.*?from_init_params\(\s*(.*?)\*\*kwargs", source,
                       re.S)
    return {name: {k: float(v) if "." in v else int(v)
                   for k, v in re.findall(r"(\w+)=([\d.]+)", args)} for name, args in found}


def regnet_model(settings: dict, device: str = "cpu"):
    """A RegNet as torchvision's builders make it, for any point of the design space.
    The block parameters are computed off the meta device (they need real tensors)."""
    params = BlockParams.from_init_params(**settings)
    with torch.device(device):
        return RegNet(params, norm_layer=partial(nn.BatchNorm2d, eps=1e-05, momentum=0.1))


def _count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def test_reference_counts_are_torchvisions():
    """tests/data/families.json holds what torchvision builds, every row."""
    assert len(FAMILIES) == 29
    for row in FAMILIES:
        if row["spec"] == "regnet":
            model = regnet_model(regnet_settings()[row["set"]["variant"]], "meta")
        else:
            with torch.device("meta"):
                model = getattr(models, row["torchvision"])(**row["kwargs"])
        assert _count(model) == row["params"], row


@pytest.mark.parametrize("point", [
    dict(depth=13, w_0=24, w_a=36.44, w_m=2.49, group_width=8),
    dict(depth=20, w_0=96, w_a=31.0, w_m=2.1, group_width=40, se_ratio=0.25),
    dict(depth=9, w_0=64, w_a=80.5, w_m=3.0, group_width=64),
], ids=["x-like", "y-like", "wide-groups"])
def test_regnet_rule_matches_torchvision_anywhere_in_the_design_space(point):
    """Points no named model uses: the spec's rule, not a table, gives torchvision's
    stage widths, depths, group widths and parameter count."""
    reference = BlockParams.from_init_params(**point)
    net = cnndsl.load(SPECS / "regnet.cnn", params={
        "depth": point["depth"], "w0": point["w_0"], "wa": point["w_a"], "wm": point["w_m"],
        "group_width": point["group_width"], "se_ratio": point.get("se_ratio", 0)})
    assert regnet_stages(net) == list(zip(reference.widths, reference.depths,
                                          reference.group_widths))
    assert net.analysis.total_params == _count(regnet_model(point, "meta"))


def on_meta(build, **kwargs):
    """A builder of torchvision's model on the meta device: the weights are about to be
    overwritten, so its init schemes need not run."""
    def make():
        with torch.device("meta"):
            return build(**kwargs)
    return make


def regnet(name: str):
    return lambda: regnet_model(regnet_settings()[name], "meta")


# (spec, settings, torchvision builder, input size): one or two variants per family,
# the smallest inputs each takes; b5 has TensorFlow's batch-norm epsilon and momentum,
# x_8gf a stage narrower than its group width.
EQUAL = [
    ("efficientnet", {"variant": "b0"}, on_meta(models.efficientnet_b0), 64),
    ("efficientnet", {"variant": "b5"}, on_meta(models.efficientnet_b5), 32),
    ("regnet", {"variant": "y_400mf"}, regnet("y_400mf"), 64),
    ("regnet", {"variant": "x_8gf"}, regnet("x_8gf"), 32),
    ("mobilenet_v2", {"width": 0.5}, on_meta(models.mobilenet_v2, width_mult=0.5), 32),
    ("mobilenet_v2", {"width": 1.4}, on_meta(models.mobilenet_v2, width_mult=1.4), 32),
]


def _ours_with_their_weights(spec, settings, reference, size):
    net = cnndsl.load(SPECS / f"{spec}.cnn", input=f"3x{size}x{size}", params=settings)
    with torch.device("meta"):
        module = net.to_torch()
    report = load_weights(module, reference.state_dict(), assign=True, by_order=True)
    assert report.ok and not report.missing, str(report)
    assert _count(module) == net.report()["total_params"]
    return module.eval()


@pytest.mark.parametrize("spec, settings, build, size", EQUAL,
                         ids=[f"{s}-{next(iter(v.values()))}" for s, v, _, _ in EQUAL])
def test_variant_computes_torchvisions_outputs(spec, settings, build, size):
    reference = build().to_empty(device="cpu")
    randomize(reference)
    reference.eval()
    module = _ours_with_their_weights(spec, settings, reference, size)
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours, theirs = module(x), reference(x)
    assert ours.shape == theirs.shape == (2, 1000)
    # float32 differs from torchvision by 1e-7 at most here; a wrong batch-norm epsilon in
    # B5 (1e-5 for TensorFlow's 1e-3) moves the outputs by 1.4e-4
    assert (ours - theirs).abs().max().item() <= 1e-5 * max(1.0, theirs.abs().max().item())


# ---- the stress regime ----------------------------------------------------------------

def stress(module, seed: int = 0):
    """float64; He-scaled weights; biases, batch-norm scales, shifts and statistics all
    random and far from their initial values."""
    randomize(module.double(), seed, variance=(0.5, 2.0), scale=(0.5, 1.5), spread=0.5)
    return module.eval()


def stressed_difference(module, reference, size: int) -> float:
    x = 4 * torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(2),
                        dtype=torch.float64)
    with torch.no_grad():
        ours, theirs = module.double()(x), reference(x)
    assert torch.isfinite(theirs).all()
    return (ours - theirs).abs().max().item() / theirs.abs().max().item()


STRESSED = [
    ("efficientnet", {"variant": "b0"}, on_meta(models.efficientnet_b0), 64),
    ("regnet", {"variant": "y_400mf"}, regnet("y_400mf"), 64),
    ("mobilenet_v2", {"width": 0.75}, on_meta(models.mobilenet_v2, width_mult=0.75), 64),
]


@pytest.mark.parametrize("spec, settings, build, size", STRESSED,
                         ids=[s for s, *_ in STRESSED])
def test_stress_regime_against_torchvision(spec, settings, build, size):
    reference = stress(build().to_empty(device="cpu"))
    module = _ours_with_their_weights(spec, settings, reference, size)
    assert stressed_difference(module, reference, size) <= 1e-6


def test_stress_regime_catches_a_wrong_activation():
    """The same check fails when EfficientNet's SiLU is replaced by ReLU."""
    text = (SPECS / "efficientnet.cnn").read_text()
    mutated = text.replace("bn; silu", "bn; relu")
    assert mutated != text
    reference = stress(on_meta(models.efficientnet_b0)().to_empty(device="cpu"))
    net = cnndsl.loads(mutated, path=str(SPECS / "efficientnet.cnn"), input="3x64x64")
    with torch.device("meta"):
        module = net.to_torch()
    load_weights(module, reference.state_dict(), assign=True, by_order=True)
    assert stressed_difference(module.eval(), reference, 64) > 1e-2


# ---- ResNets for CIFAR-10 against a hand-written reference -------------------------

class CifarBlock(nn.Module):
    """He et al. 2016's basic block with an option A shortcut, as the common
    reimplementations write it (x[:, :, ::2, ::2], zero channels on both sides)."""

    def __init__(self, c_in, c, stride, split=True):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        extra = c - c_in
        self.pad = (extra // 2, extra - extra // 2) if split else (0, extra)
        self.stride = stride

    def forward(self, x):
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        shortcut = x[:, :, ::self.stride, ::self.stride]
        if any(self.pad):
            shortcut = nn.functional.pad(shortcut, (0, 0, 0, 0, *self.pad))
        return torch.relu(out + shortcut)


def cifar_resnet(depth: int, split: bool = True):
    n = (depth - 2) // 6
    layers = [nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()]
    c_in = 16
    for c, stride in ((16, 1), (32, 2), (64, 2)):
        for i in range(n):
            layers.append(CifarBlock(c_in, c, stride if i == 0 else 1, split))
            c_in = c
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)]
    return nn.Sequential(*layers)


def test_resnet_cifar_option_a_matches_a_hand_written_reference_under_stress():
    reference = stress(cifar_resnet(20))
    module = _ours_with_their_weights("resnet_cifar", {"depth": 20}, reference, 32)
    assert stressed_difference(module, reference, 32) <= 1e-6
    # zero channels on one side only is a different network, and the check sees it
    lopsided = stress(cifar_resnet(20, split=False))
    module = _ours_with_their_weights("resnet_cifar", {"depth": 20}, lopsided, 32)
    assert stressed_difference(module, lopsided, 32) > 1e-2


def test_resnet_cifar_exports_to_onnx_with_its_zero_padding(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    net = cnndsl.load(SPECS / "resnet_cifar.cnn")
    torch.manual_seed(0)
    module = net.to_torch().eval()
    randomize(module)
    path = tmp_path / "resnet20.onnx"
    net.to_onnx(path, state_dict=module.state_dict())
    x = torch.randn(2, 3, 32, 32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (onnx_out,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        assert abs(onnx_out - module(x).numpy()).max() <= 1e-4
