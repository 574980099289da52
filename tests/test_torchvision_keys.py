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
LABELLED = ["alexnet", "densenet121", "googlenet", "resnet18", "resnet34", "resnet50",
            "resnet101", "resnet152", "resnext50_32x4d", "squeezenet1_1", "vgg16",
            "vgg16_bn", "vgg19", "wide_resnet50_2"]
EXTRA_TWINS = {"mobilenet_v2": models.mobilenet_v2}


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
