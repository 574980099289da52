"""Zoo twins labelled as torchvision names its modules: torchvision's state_dict loads
into the built module with strict=True (same keys, same shapes, nothing paired by
position), and the outputs are then torchvision's."""

import pytest

torch = pytest.importorskip("torch")
models = pytest.importorskip("torchvision.models")

import cnndsl  # noqa: E402

from conftest import SPECS  # noqa: E402
from test_torch_backend import INPUT, TWINS, randomize  # noqa: E402

# Every zoo spec whose labels are torchvision's module names.
LABELLED = ["alexnet", "convnext_tiny", "densenet121", "efficientnet_b0", "googlenet",
            "inception_v3", "mobilenet_v2", "mobilenet_v3_large", "mobilenet_v3_small", "resnet18", "resnet34",
            "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "shufflenet_v2_x1_0",
            "squeezenet1_1", "vgg16", "vgg16_bn", "vgg19", "wide_resnet50_2"]
EXTRA_TWINS = {"mobilenet_v2": models.mobilenet_v2}
# With output heads: torchvision registers them after the main path (GoogLeNet's aux1
# after inception5b), the specs where they branch off, so the keys are the same but
# not in the same order; their outputs are compared head by head in test_outputs_torch.
AUX_TWINS = {"googlenet_aux": lambda: models.googlenet(aux_logits=True, init_weights=False),
             "inception_v3_aux": lambda: models.inception_v3(aux_logits=True,
                                                             init_weights=False)}


@pytest.mark.parametrize("name", sorted(AUX_TWINS))
def test_aux_twin_state_dict_loads_strictly(name):
    net = cnndsl.load(SPECS / f"{name}.cnn")
    with torch.device("meta"):
        module, theirs = net.to_torch(), AUX_TWINS[name]()
    assert sorted(module.state_dict()) == sorted(theirs.state_dict())
    module.load_state_dict(theirs.state_dict(), strict=True, assign=True)


def reference(name):
    with torch.device("meta"):  # random weights of our own: skip torchvision's init
        model = {**TWINS, **EXTRA_TWINS}[name]()
    model.to_empty(device="cpu")
    randomize(model)
    return model.eval()


@pytest.mark.parametrize("name", LABELLED)
def test_torchvision_state_dict_loads_strictly(name):
    size = INPUT.get(name, 32)
    net = cnndsl.load(SPECS / f"{name}.cnn", input=f"3x{size}x{size}")
    theirs = reference(name)
    with torch.device("meta"):
        module = net.to_torch()
    assert list(module.state_dict()) == list(theirs.state_dict())  # keys, and their order
    module.load_state_dict(theirs.state_dict(), strict=True, assign=True)
    module.eval()
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours, expected = module(x), theirs(x)
    assert ours.shape == expected.shape
    assert (ours - expected).abs().max().item() <= 1e-4


def test_labelled_list_is_every_twin_with_labels():
    """A twin left off LABELLED would go untested: every twin whose spec's keys are
    torchvision's is in the list."""
    for name in sorted(set(TWINS) | set(EXTRA_TWINS)):
        if name in LABELLED:
            continue
        net = cnndsl.load(SPECS / f"{name}.cnn", input=f"3x{INPUT.get(name, 32)}x"
                                                       f"{INPUT.get(name, 32)}")
        with torch.device("meta"):
            ours = set(net.to_torch().state_dict())
        assert ours != set(reference(name).state_dict()), f"add {name} to LABELLED"


def test_checkpoint_with_names_from_before_labels(tmp_path):
    """A state dict saved from resnet18 before the zoo took torchvision's names (the
    same spec without its labels: `resnet_stem1.conv1`, `basic_stage1.basic1.conv1`)
    no longer fits by name: the error says why, and by_order=True loads it."""
    import re
    from cnndsl.backends.torch import load_weights
    from cnndsl.backends.torch.weights import WeightMismatchError
    for source in [SPECS / "resnet18.cnn", SPECS / "lib" / "resnet.cnn"]:
        text = re.sub(r"\b(?:[a-z_][a-z0-9_]*): (?:sequential )?", "", source.read_text())
        text = text.replace("conv(64, 7, stride=2, pad=3, bias=false); bn; relu\n"
                            "  maxpool(3, stride=2, pad=1)", "resnet_stem")
        target = tmp_path / source.relative_to(SPECS)
        target.parent.mkdir(exist_ok=True)
        target.write_text(text)
    old = cnndsl.load(tmp_path / "resnet18.cnn", input="3x32x32").to_torch().eval()
    assert "resnet_stem1.conv1.weight" in old.state_dict()
    assert "basic_stage1.basic1.conv1.weight" in old.state_dict()
    new = cnndsl.load(SPECS / "resnet18.cnn", input="3x32x32").to_torch().eval()
    with pytest.raises(WeightMismatchError) as err:
        load_weights(new, old.state_dict())
    assert "declaration order pairs all" in str(err.value)
    assert "before the zoo's specs took torchvision's names" in str(err.value)
    report = load_weights(new, old.state_dict(), by_order=True)
    assert report.ok and report.pairing == "declaration order"
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(new(x), old(x))
