import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
ZOO = sorted(p.stem for p in SPECS.glob("*.cnn"))  # every network in the zoo
REFERENCE = ROOT.parent / "shared" / "reference" / "zoo.json"
if not REFERENCE.exists():  # a copy ships in tests/data for checkouts without ../shared
    REFERENCE = ROOT / "tests" / "data" / "zoo.json"
# the newer torchvision twins (fvcore's counts, computed once) and timm's parameter counts
MODERN_REFERENCE = ROOT / "tests" / "data" / "zoo_modern.json"


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite golden files under tests/golden from the current output")


@pytest.fixture
def update_golden(request) -> bool:
    return request.config.getoption("--update-golden")


@pytest.fixture(scope="session")
def zoo_reference() -> dict:
    return {**json.loads(REFERENCE.read_text()), **json.loads(MODERN_REFERENCE.read_text())}


def pytest_collection_modifyitems(config, items):
    try:
        import torch
        has_cuda = torch.cuda.is_available()
    except Exception:
        has_cuda = False
    if has_cuda:
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
