"""--freeze patterns: one rule (a glob on a dotted name or any dotted suffix of
it), the docs' transfer-learning recipe, and an error for every pattern that
matches nothing."""

import pytest

from cnndsl.train.patterns import closest, matches, select

NAMES = ["stem.conv1", "stem.bn1", "stage1.block1.conv1", "stage1.block1.bn1",
         "stage1.block2.conv1", "stage2.block1.conv1", "head.fc1"]


@pytest.mark.parametrize("pattern, expected", [
    ("conv1", ["stem.conv1", "stage1.block1.conv1", "stage1.block2.conv1", "stage2.block1.conv1"]),
    ("stem", ["stem.conv1", "stem.bn1"]),                      # a block: everything inside
    ("stage1.block1", ["stage1.block1.conv1", "stage1.block1.bn1"]),
    ("block1.conv1", ["stage1.block1.conv1", "stage2.block1.conv1"]),  # a dotted suffix
    ("stage[2-3]", ["stage2.block1.conv1"]),                  # globs
    ("stage1.*", ["stage1.block1.conv1", "stage1.block1.bn1", "stage1.block2.conv1"]),
    ("*.fc1", ["head.fc1"]),
    ("head.fc1", ["head.fc1"]),
])
def test_rule(pattern, expected):
    assert select(NAMES, [pattern]) == (expected, [])


@pytest.mark.parametrize("name, pattern", [
    ("stem.conv1", "conv"),        # a whole dotted part, not a substring
    ("stem.conv1", "tem.conv1"),
    ("stage1.block1.conv1", "stage1.conv1"),  # not a subsequence of parts
])
def test_non_matches(name, pattern):
    assert not matches(name, pattern)


def test_every_unmatched_pattern_is_reported():
    chosen, unmatched = select(NAMES, ["stem", "nosuch", "conv9"])
    assert chosen == ["stem.conv1", "stem.bn1"] and unmatched == ["nosuch", "conv9"]


def test_closest_names():
    assert closest("conv2", NAMES)[0] == "conv1"
    assert "block1.conv1" in closest("blok1.conv1", NAMES)
    # nothing near (`layer9` in a net of digit-named suffixes): the top-level names, in order
    assert closest("zzzz", NAMES) == ["stem", "stage1", "stage2", "head"]


torch = pytest.importorskip("torch")


def test_docs_recipe_on_resnet34():
    """The pattern of docs/training.md's transfer-learning recipe freezes the first two
    stages of resnet34 (everything under its labels layer1. and layer2.), and nothing
    else."""
    import cnndsl
    from cnndsl.train.transfer import freeze
    model = cnndsl.load("specs/resnet34.cnn", input="3x32x32").to_torch()
    frozen = freeze(model, ["layer[1-2]"])
    assert frozen and all(n.split(".")[0] in ("layer1", "layer2") for n in frozen)
    for name, parameter in model.named_parameters():
        assert parameter.requires_grad == (name.split(".")[0] not in ("layer1", "layer2")), name


def test_one_unmatched_pattern_is_an_error_even_when_another_matches():
    import cnndsl
    from cnndsl.train.errors import TrainError
    from cnndsl.train.transfer import freeze
    model = cnndsl.load("specs/resnet34.cnn", input="3x32x32").to_torch()
    with pytest.raises(TrainError) as info:
        freeze(model, ["conv1", "layer9"])
    text = str(info.value)
    assert "--freeze layer9 matches no layer" in text
    assert "layer1" in text  # the closest names
    assert not any(p.requires_grad is False for p in model.parameters())  # nothing half-frozen
