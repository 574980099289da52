"""Every command shown in README.md and docs/*.md runs (docs/commands-tested.md):
usage lines name real options, the rest run in a sandbox, with the documented
substitutions for large inputs."""

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MAPPING = ROOT / "docs" / "commands-tested.md"
PLACEHOLDER = re.compile(r"\[-|\[[A-Z]|\.\.\.|\b[A-Z][A-Z_]*\b")  # [--opt], SPEC, INPUT...


def commands(doc: Path) -> list[str]:
    """The command lines of `doc`'s fenced code blocks, continuations joined."""
    found = []
    for block in re.findall(r"^```[^\n]*\n(.*?)^```", doc.read_text(), re.S | re.M):
        lines = block.splitlines()
        k = 0
        while k < len(lines):
            line = lines[k].strip().removeprefix("$ ")
            if line.startswith(("cnndsl ", "torchrun ")) or line == "cnndsl":
                while line.endswith("\\") and k + 1 < len(lines):
                    k += 1
                    line = line[:-1].rstrip() + " " + lines[k].strip()
                found.append(_without_comment(line))
            k += 1
    return found


def _without_comment(line: str) -> str:
    """The line before an unquoted `#` that starts a comment."""
    quote = None
    for k, char in enumerate(line):
        if char in "'\"" and quote in (None, char):
            quote = None if quote else char
        elif char == "#" and quote is None and (k == 0 or line[k - 1] == " "):
            return line[:k].rstrip()
    return line


def substitutions() -> list[tuple[str, str]]:
    """(shown, run as) rows of the table in docs/commands-tested.md."""
    rows = []
    for line in MAPPING.read_text().splitlines():
        cells = re.findall(r"`((?:[^`\\]|\\.)*)`", line)
        if line.startswith("| `cnndsl") and len(cells) >= 2:
            rows.append(tuple(c.replace("\\|", "|") for c in cells[:2]))
    return rows


def kind(command: str) -> str:
    words = command.split()
    if words[0] == "torchrun" or PLACEHOLDER.search(" ".join(words[2:])):
        return "usage"
    if len(words) > 1 and words[1].endswith(":"):
        return "output"
    return "run"


def test_every_doc_has_its_commands_found():
    shown = {doc.name: commands(doc) for doc in DOCS}
    assert len(shown["README.md"]) >= 15 and len(shown["training.md"]) >= 8
    assert sum(map(len, shown.values())) >= 40


def test_every_substitution_is_used():
    shown = [c for doc in DOCS for c in commands(doc)]
    unused = [key for key, _ in substitutions() if not any(c.startswith(key) for c in shown)]
    assert unused == []


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_usage_lines_name_real_options(doc):
    from cnndsl.cli import build_parser, discover
    parser = build_parser(discover())
    subs = next(a for a in parser._actions if a.dest == "command").choices
    problems = []
    for command in (c for c in commands(doc) if kind(c) == "usage"):
        words = command.split()
        if words[0] == "torchrun":
            words = words[words.index("cnndsl") - 1:] if "cnndsl" in words else []
            words = ["cnndsl", *words[2:]]
        name = words[1]
        if name not in subs:
            problems.append(f"{command}: no command {name!r}")
            continue
        known = {o for action in subs[name]._actions for o in action.option_strings}
        for option in re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", " ".join(words[2:])):
            if option not in known and option != "-":
                problems.append(f"{command}: {name} has no option {option}")
    assert problems == []


def sandbox(folder: Path, needs_weights: bool = True) -> None:
    """The stand-ins for the user's files that docs/commands-tested.md lists
    (the 87 MB of resnet34 weights only where a command reads them)."""
    import numpy as np
    from PIL import Image
    shutil.copytree(ROOT / "specs", folder / "specs")
    shutil.copy(ROOT / "specs" / "lenet5.cnn", folder / "spec.cnn")
    from cnndsl.train.data.digits import _read
    images, _ = _read()
    Image.fromarray(images[0].reshape(8, 8).astype(np.uint8), mode="L").save(folder / "digit.png")
    rng = np.random.RandomState(0)

    def picture(path: Path, size=(16, 16)) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.randint(0, 256, (*size, 3)).astype(np.uint8), "RGB").save(path)
    for c in ("daisy", "rose", "tulip"):
        for k in range(4):
            picture(folder / "flowers" / "train" / c / f"{k}.png")
        for k in range(2):
            picture(folder / "flowers" / "val" / c / f"{k}.png")
        for k in range(5):
            picture(folder / "pets" / c / f"{k}.png")
    picture(folder / "photos" / "a.png", (30, 40))
    picture(folder / "photos" / "b.png", (30, 40))
    (folder / "imagenet_classes.txt").write_text("".join(f"class{k}\n" for k in range(1000)))
    if not needs_weights:
        return
    import torch
    import torchvision
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet34(weights=None).state_dict(),
               folder / "resnet34-b627a593.pth")
    (folder / "tv_resnet34.pth").symlink_to(folder / "resnet34-b627a593.pth")


def as_run(command: str) -> str:
    for shown, run in sorted(substitutions(), key=lambda row: -len(row[0])):
        if command.startswith(shown):
            command = run + command[len(shown):]
            break
    return shlex.quote(sys.executable) + " -m cnndsl" + command[len("cnndsl"):]


def expected_codes(command: str) -> tuple[int, ...]:
    graph_picture = command.startswith("cnndsl graph") and re.search(r"\.(svg|png|pdf)\b", command)
    return (0, 3) if graph_picture and shutil.which("dot") is None else (0,)


RUN_DOCS = [d for d in DOCS if any(kind(c) == "run" for c in commands(d))]


@pytest.mark.slow
@pytest.mark.parametrize("doc", RUN_DOCS, ids=[d.name for d in RUN_DOCS])
def test_commands_run(doc, tmp_path):
    pytest.importorskip("torchvision")
    runnable = [c for c in commands(doc) if kind(c) == "run"]
    sandbox(tmp_path, needs_weights=any(".pth" in c for c in runnable))
    failures = []
    for command in runnable:
        done = subprocess.run(as_run(command), shell=True, cwd=tmp_path, capture_output=True,
                              text=True, timeout=600, stdin=subprocess.DEVNULL)
        if done.returncode not in expected_codes(command):
            failures.append(f"{command}\n  exit {done.returncode}: {done.stderr.strip()[-800:]}")
    assert failures == [], "\n".join(failures)
