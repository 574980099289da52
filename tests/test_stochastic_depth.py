"""Stochastic depth trains as the reference does: the compiled module in train mode
draws the same masks in the same order as torchvision's EfficientNet-B0 and
ConvNeXt-T, each block survives at its rate (per sample, or per batch), survivors
are scaled by 1 / (1 - p), and inference is the identity."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
models = pytest.importorskip("torchvision.models")

import cnndsl  # noqa: E402
from cnndsl.backends.torch import load_weights  # noqa: E402

from conftest import ROOT, SPECS  # noqa: E402
from test_torch_backend import randomize  # noqa: E402

TOY = ROOT / "tests" / "specs" / "torch_stochastic_depth.cnn"


@pytest.mark.parametrize("spec, twin, rate", [
    ("efficientnet_b0", models.efficientnet_b0, 0.2),   # torchvision's default
    ("efficientnet_b0", models.efficientnet_b0, 0.6),   # more drops: masks must line up
    ("convnext_tiny", models.convnext_tiny, 0.1),
    ("convnext_tiny", models.convnext_tiny, 0.6),
])
def test_train_mode_matches_torchvision(spec, twin, rate):
    """Same seed, same output in train mode (batch statistics, dropout and stochastic
    depth drawing from the one generator), for several seeds; the masks really vary."""
    net = cnndsl.load(SPECS / f"{spec}.cnn", input="3x64x64",
                      params={"stochastic_depth": rate})
    reference = twin(stochastic_depth_prob=rate)
    randomize(reference)
    module = net.to_torch()
    report = load_weights(module, reference.state_dict(), by_order=True)
    assert report.ok and not report.missing, str(report)
    module.train(), reference.train()
    x = torch.randn(8, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    outputs = []
    for seed in range(3):
        torch.manual_seed(seed)
        ours = module(x)
        after_ours = torch.rand(1)  # the generator's state: as many draws on both sides
        torch.manual_seed(seed)
        theirs = reference(x)
        assert torch.rand(1) == after_ours
        diff = (ours - theirs).abs().max().item()
        print(f"{spec} p={rate} seed {seed}: max abs diff {diff:.3g}")
        assert diff <= 1e-5 * theirs.abs().max().item()
        outputs.append(ours.detach())
    assert not torch.equal(outputs[0], outputs[1])  # the draws change the output
    module.eval(), reference.eval()
    with torch.no_grad():
        assert (module(x) - reference(x)).abs().max().item() <= 1e-5


def _drop_path_hooks(module):
    """Per drop_path layer: the rows it kept and dropped, checking the survivors' scale."""
    seen = {}

    def hook(layer, inputs, output):
        (x,) = inputs
        flat_in, flat_out = x.flatten(1), output.flatten(1)
        dropped = (flat_out == 0).all(1)
        kept = ~dropped
        survival = 1.0 - layer.p if layer.training else 1.0  # the identity at inference
        assert torch.allclose(flat_out[kept], flat_in[kept] / survival, rtol=1e-6, atol=0)
        record = seen.setdefault(layer, {"p": layer.p, "rows": 0, "dropped": 0, "batches": []})
        record["rows"] += len(dropped)
        record["dropped"] += int(dropped.sum())
        record["batches"].append(bool(dropped.all()) if dropped.any() else False)
        if layer.mode == "batch":  # the whole batch at once, or none of it
            assert dropped.all() or not dropped.any()

    handles = [m.register_forward_hook(hook) for m in module.modules()
               if type(m).__name__ == "StochasticDepth"]
    return seen, handles


def _binomial_ok(dropped: int, n: int, p: float) -> bool:
    """Within 4.5 standard deviations (a 1-in-150,000 false alarm; the seed is fixed)."""
    return abs(dropped - n * p) <= 4.5 * math.sqrt(n * p * (1 - p)) + 1e-9


@pytest.mark.parametrize("mode", ["row", "batch"])
def test_survival_rate_per_block(mode):
    """Block l of 5 drops its branch with p = 0.8 * l / 4 (0, 0.2, ..., 0.8): counted over
    20,000 samples ("row": each sample draws) or 1,500 batches ("batch": one draw each)."""
    net = cnndsl.load(TOY, params={"mode": mode})
    module = net.to_torch().train()
    seen, handles = _drop_path_hooks(module)
    torch.manual_seed(0)
    batches, size = (10, 2000) if mode == "row" else (1500, 4)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # many tiny batches: threads only contend
    try:
        with torch.no_grad():
            for _ in range(batches):
                module(torch.randn(size, *net.input_shape) + 3.0)  # no row is zero by chance
    finally:
        torch.set_num_threads(threads)
        for h in handles:
            h.remove()
    rates = [record["p"] for record in seen.values()]
    assert rates == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8], abs=1e-12)
    for record in seen.values():
        p = record["p"]
        if mode == "row":
            n, dropped = record["rows"], record["dropped"]
        else:
            n, dropped = len(record["batches"]), sum(record["batches"])
        print(f"{mode}: p={p:.1f} dropped {dropped} of {n} ({dropped / n:.4f})")
        assert _binomial_ok(dropped, n, p)


def test_inference_is_the_identity():
    net = cnndsl.load(TOY, params={"p_max": 0.9})
    module = net.to_torch().eval()
    seen, handles = _drop_path_hooks(module)
    with torch.no_grad():
        module(torch.randn(64, *net.input_shape) + 3.0)
    for h in handles:
        h.remove()
    assert all(record["dropped"] == 0 for record in seen.values()) and len(seen) == 5


def test_resnet110_survival_decays_linearly_to_one_half():
    """Huang et al. 2016, eq. 4: p_l = 1 - l / L * (1 - p_L), L = 54 blocks, p_L = 0.5;
    the whole mini-batch is dropped at once."""
    net = cnndsl.load(SPECS / "resnet110_stochastic_depth.cnn")
    layers = [n for n in net.graph.nodes if n.op == "drop_path"]
    assert len(layers) == 54 and {n.attrs["mode"] for n in layers} == {"batch"}
    survival = [1 - n.attrs["p"] for n in layers]
    assert survival == pytest.approx([1 - l / 54 * 0.5 for l in range(1, 55)], abs=1e-15)
    assert survival[-1] == 0.5
