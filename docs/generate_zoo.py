"""Write docs/zoo.md from `cnndsl check --format json` run on every spec in specs/.

    python docs/generate_zoo.py            # rewrite docs/zoo.md
    python docs/generate_zoo.py --check    # exit 1 if docs/zoo.md is out of date

Every number in the table comes from the checker's JSON report or from
reference/zoo.json; the reference figures from the papers are listed in
REFERENCES below, each with its source.  Never edit docs/zoo.md by hand.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
OUTPUT = ROOT / "docs" / "zoo.md"
ZOO_JSON = ROOT.parent / "shared" / "reference" / "zoo.json"
if not ZOO_JSON.exists():  # a copy ships in tests/data for checkouts without ../shared
    ZOO_JSON = ROOT / "tests" / "data" / "zoo.json"
# torchvision's parameter counts for the family specs' variants (checked by the tests)
FAMILIES_JSON = ROOT / "tests" / "data" / "families.json"
# the newer torchvision twins (fvcore's counts) and timm's parameter counts
MODERN_JSON = ROOT / "tests" / "data" / "zoo_modern.json"

# torchvision's counts with aux_logits=True (googlenet(aux_logits=True), inception_v3(
# aux_logits=True)), which reference/zoo.json does not list; tests/test_zoo.py checks them
AUX_TWINS = {"googlenet_aux": {"params": 13_004_888, "aux": "googlenet(aux_logits=True)"},
             "inception_v3_aux": {"params": 27_161_264, "aux": "inception_v3(aux_logits=True)"}}

EFFICIENTNETS = [f"b{i}" for i in range(8)]
REGNETS = [f"{kind}_{size}" for kind in "yx" for size in ("400mf", "800mf", "1_6gf", "3_2gf",
                                                         "8gf", "16gf", "32gf")] + ["y_128gf"]
# Extra rows: a spec checked with network parameters set (--set NAME=VALUE); a family
# spec's first named variant is its plain row.
VARIANTS = {
    "resnet50": [{"v1": "true"}],
    "resnet101": [{"v1": "true"}],
    "resnet152": [{"v1": "true"}],
    "efficientnet": [{"variant": v} for v in EFFICIENTNETS[1:]],
    "regnet": [{"variant": v} for v in REGNETS if v != "y_400mf"],
    "mobilenet_v2": [{"width": w} for w in ("0.35", "0.5", "0.75", "1.3", "1.4")],
    "resnet_cifar": [*({"depth": str(d)} for d in (32, 44, 56, 110, 1202)),
                     {"depth": "56", "shortcut": "B"}],
}
# What a family spec's plain row is (its defaults), to match torchvision's counts.
FAMILY_DEFAULTS = {"efficientnet": {"variant": "b0"}, "regnet": {"variant": "y_400mf"},
                   "mobilenet_v2": {"width": "1.0"}, "resnet_cifar": {"depth": "20"}}

# The order of the table: the lectures' toys, then roughly by year; other specs follow.
ORDER = ["lenet5", "xo_toy", "direction_toy", "alexnet", "alexnet2012", "zfnet", "vgg16",
         "vgg16_bn", "vgg19", "googlenet", "googlenet_aux", "googlenet2014", "bn_inception", "resnet18",
         "resnet34", "resnet50", "resnet101", "resnet152", "resnet_cifar", "resnext50_32x4d",
         "wide_resnet50_2", "densenet121", "squeezenet1_1", "inception_v3", "inception_v3_aux",
         "resnet110_stochastic_depth", "inception_v4", "inception_resnet_v2", "dpn92",
         "shufflenet_v2_x1_0", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large",
         "efficientnet_b0", "efficientnet", "regnet", "convnext_tiny"]

# Tan & Le 2019, table 2: parameters and FLOPs (multiply-adds) per variant.
EFFICIENTNET_TABLE2 = dict(zip(EFFICIENTNETS, [
    "5.3 M params, 0.39 G FLOPs", "7.8 M params, 0.70 G FLOPs",
    "9.2 M params, 1.0 G FLOPs (at 260x260)", "12 M params, 1.8 G FLOPs",
    "19 M params, 4.2 G FLOPs", "30 M params, 9.9 G FLOPs", "43 M params, 19 G FLOPs",
    "66 M params, 37 G FLOPs"]))
# He et al. 2016, table 6: parameters of the CIFAR-10 ResNets (option A).
CIFAR_TABLE6 = {20: "0.27", 32: "0.46", 44: "0.66", 56: "0.85", 110: "1.7", 1202: "19.4"}


def _family_references() -> dict:
    refs = {}
    for v in EFFICIENTNETS:
        key = () if v == "b0" else (("variant", v),)
        refs[("efficientnet", key)] = (EFFICIENTNET_TABLE2[v], "Tan & Le 2019, table 2")
    for v in REGNETS:
        key = () if v == "y_400mf" else (("variant", v),)
        size = v.split("_", 1)[1]  # 400mf, 1_6gf: the model's mult-adds
        number = size[:-2].replace("_", ".")
        flops = f"{number} G" if size.endswith("gf") else f"0.{int(number) // 100} G"
        refs[("regnet", key)] = (f"{flops} mult-adds (its name)", "Radosavovic et al. 2020")
    for depth, figure in CIFAR_TABLE6.items():
        key = () if depth == 20 else (("depth", str(depth)),)
        refs[("resnet_cifar", key)] = (f"{figure} M params", "He et al. 2016, table 6")
    return refs


# (spec, settings) -> (the paper's or lecture's figure, where it comes from)
REFERENCES = {
    ("lenet5", ()): ("1,256,080 params; 20x28x28 ... 50x7x7, 2450, 500, 10",
                     "lecture table (after LeCun et al. 1998)"),
    ("xo_toy", ()): ("9x9 -> 7x7 -> 4x4", "lecture X/O example"),
    ("direction_toy", ()): ("4x4 -> 4x4 -> 2x2 -> 4", "lecture direction example"),
    ("alexnet", ()): ("61.1 M params, 0.71 G FLOPs", "torchvision model docs"),
    ("alexnet2012", ()): ("60 M params; conv1 34,944 params, 55x55x96 ... 6x6x256",
                          "Krizhevsky et al. 2012, sec. 2, 3.5, fig. 2"),
    ("zfnet", ()): ("110 -> 55 -> 26 -> 13 -> 6 feature maps",
                    "Zeiler & Fergus 2014, fig. 3"),
    ("vgg16", ()): ("138 M params", "Simonyan & Zisserman 2015, table 2 (D)"),
    ("vgg16_bn", ()): ("138.4 M params, 15.47 G FLOPs", "torchvision model docs"),
    ("vgg19", ()): ("144 M params", "Simonyan & Zisserman 2015, table 2 (E)"),
    ("googlenet", ()): ("about 1.5 G mult-adds", "Szegedy et al. 2015, sec. 5"),
    ("googlenet_aux", ()): ("two auxiliary classifiers on 4a and 4d, losses weighted 0.3",
                            "Szegedy et al. 2015, sec. 5"),
    ("googlenet2014", ()): ("6.8 M params, 1.5 G mult-adds (table sums to 1.586 G) without "
                            "the auxiliary heads",
                            "Szegedy et al. 2015, table 1 and sec. 5"),
    ("bn_inception", ()): ("figure 5 layout", "Ioffe & Szegedy 2015, fig. 5"),
    ("resnet18", ()): ("1.8 G mult-adds", "He et al. 2016, table 1"),
    ("resnet34", ()): ("3.6 G mult-adds", "He et al. 2016, table 1"),
    ("resnet50", ()): ("4.1 G mult-adds (v1.5)", "torchvision model docs"),
    ("resnet101", ()): ("7.8 G mult-adds (v1.5)", "torchvision model docs"),
    ("resnet152", ()): ("11.5 G mult-adds (v1.5)", "torchvision model docs"),
    ("resnet50", (("v1", "true"),)): ("3.8 G mult-adds", "He et al. 2016, table 1"),
    ("resnet101", (("v1", "true"),)): ("7.6 G mult-adds", "He et al. 2016, table 1"),
    ("resnet152", (("v1", "true"),)): ("11.3 G mult-adds", "He et al. 2016, table 1"),
    ("resnext50_32x4d", ()): ("25.0 M params, 4.2 G FLOPs", "Xie et al. 2017, table 1"),
    ("wide_resnet50_2", ()): ("68.9 M params, 11.4 G FLOPs", "torchvision model docs"),
    ("densenet121", ()): ("growth 32, blocks 6-12-24-16", "Huang et al. 2017, table 1"),
    ("squeezenet1_1", ()): ("1.24 M params, 0.35 G FLOPs", "torchvision model docs"),
    ("inception_v3", ()): ("23.8 M params without the auxiliary head",
                           "torchvision (Szegedy et al. 2016, table 1)"),
    ("inception_v3_aux", ()): ("auxiliary classifier on the 17x17 grid, loss weighted 0.4",
                               "Szegedy et al. 2016, sec. 4; torchvision's recipe"),
    ("resnet110_stochastic_depth", ()): ("1.7 M params; survival 1 - l/54 * 0.5",
                                         "He et al. 2016, table 6; Huang et al. 2016, eq. 4"),
    ("inception_v4", ()): ("42,679,816 params (timm)", "Szegedy et al. 2017, fig. 9"),
    ("inception_resnet_v2", ()): ("55,843,464 params (timm)", "Szegedy et al. 2017, fig. 18"),
    ("dpn92", ()): ("37,668,392 params (timm); 6.5 GFLOPs", "Chen et al. 2017, tables 1-2"),
    ("shufflenet_v2_x1_0", ()): ("146 M FLOPs, 2.3 M params", "Ma et al. 2018, table 5"),
    ("mobilenet_v3_small", ()): ("56 M MAdds, 2.5 M params", "Howard et al. 2019, table 3"),
    ("mobilenet_v3_large", ()): ("219 M MAdds, 5.4 M params", "Howard et al. 2019, table 3"),
    ("efficientnet_b0", ()): ("0.39 B FLOPs, 5.3 M params", "Tan & Le 2019, table 2"),
    ("convnext_tiny", ()): ("4.5 G FLOPs", "Liu et al. 2022, table 1"),
}

HEADER = """\
# The model zoo

Generated by `python docs/generate_zoo.py` from `cnndsl check --format json` on
every spec in `specs/`; do not edit by hand.  MACs are conv + fc
multiply-accumulates at the spec's input size (the papers' "multiply-adds");
depth counts the conv and fc layers, shortcut projections included.  Where a
torchvision model of the same name exists, its parameter count and fvcore's
count (which adds eval-mode batch norm and adaptive pooling to conv + fc) come
from `reference/zoo.json` (`tests/data/zoo_modern.json` for the newer twins; for
Inception-v4, Inception-ResNet-v2 and DPN-92, which torchvision lacks, timm's
parameter count); `cnndsl check` prints the comparable figure as
"fvcore-comparable count".  A network with output heads (auxiliary
classifiers) counts them in its params and MACs; the output column names them
and gives the main network's own figures, which the papers print.

| spec | input | output | params | MACs | depth | torchvision params (fvcore MACs) | reference figure | source |
|---|---|---|---:|---:|---:|---|---|---|
"""


def check(spec: Path, settings: dict[str, str]) -> dict:
    command = [sys.executable, "-m", "cnndsl", "check", str(spec), "--format", "json"]
    for name, value in settings.items():
        command += ["--set", f"{name}={value}"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"cnndsl check failed on {spec}:\n{done.stderr}")
    return json.loads(done.stdout)


def giga(n: int) -> str:
    return f"{n / 1e9:.2f} G" if n >= 1e8 else f"{n / 1e6:.2f} M" if n >= 1e5 else f"{n:,}"


def shape(dims) -> str:
    return "x".join(str(d) for d in dims)


def outputs(report: dict) -> str:
    """The main output's shape; with heads, their names and the main network's figures."""
    if "outputs" not in report:  # the report lists outputs only for a network with heads
        return shape(report["output"])
    main, *heads = report["outputs"]
    names = ", ".join(f"{h['name']} {shape(h['shape'])}" for h in heads)
    return (f"{shape(main['shape'])}; heads {names} (main network: {main['params']:,} params, "
            f"{giga(main['macs'])})")


def _family_twin(spec: str, settings: dict[str, str], families: list) -> dict | None:
    wanted = {k: str(v) for k, v in {**FAMILY_DEFAULTS.get(spec, {}), **settings}.items()}
    for row in families:
        if row["spec"] == spec and {k: str(v) for k, v in row["set"].items()} == wanted:
            return row
    return None


def row(spec: Path, settings: dict[str, str], twins: dict, families: list) -> str:
    report = check(spec, settings)
    name = spec.stem + "".join(f" `--set {k}={v}`" for k, v in settings.items())
    if not settings and spec.stem in FAMILY_DEFAULTS:  # the family's default variant
        name += " (" + ", ".join(f"{k}={v}" for k, v in FAMILY_DEFAULTS[spec.stem].items()) + ")"
    depth = sum(layer["op"] in ("conv", "fc") for layer in report["layers"])
    twin = twins.get(spec.stem) if not settings else None
    family = _family_twin(spec.stem, settings, families)
    aux = AUX_TWINS.get(spec.stem) if not settings else None
    if aux:
        same = "=" if aux["params"] == report["total_params"] else "differs:"
        torchvision = f"{same} {aux['params']:,} (`{aux['aux']}`)"
    elif twin:
        same = "=" if twin["params"] == report["total_params"] else "differs:"
        counted = giga(twin["fvcore_macs"]) if "fvcore_macs" in twin else "timm, no fvcore figure"
        torchvision = f"{same} {twin['params']:,} ({counted})"
    elif family:
        same = "=" if family["params"] == report["total_params"] else "differs:"
        torchvision = f"{same} {family['params']:,} (`{family['torchvision']}`)"
    else:
        torchvision = "–"
    figure, source = {**REFERENCES, **_family_references()}.get(
        (spec.stem, tuple(settings.items())), ("–", "–"))
    return (f"| [{name}](../specs/{spec.name}) | {shape(report['input'])} | "
            f"{outputs(report)} | {report['total_params']:,} | "
            f"{giga(report['total_macs'])} | {depth} | {torchvision} | {figure} | {source} |")


def render() -> str:
    twins = {**json.loads(ZOO_JSON.read_text()), **json.loads(MODERN_JSON.read_text())}
    families = json.loads(FAMILIES_JSON.read_text())["variants"]
    rows = []
    specs = sorted(SPECS.glob("*.cnn"),
                   key=lambda p: (ORDER.index(p.stem) if p.stem in ORDER else len(ORDER), p.stem))
    for spec in specs:
        for settings in [{}, *VARIANTS.get(spec.stem, [])]:
            rows.append(row(spec, settings, twins, families))
    return HEADER + "\n".join(rows) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if docs/zoo.md differs from what would be generated")
    args = parser.parse_args()
    text = render()
    if args.check:
        if OUTPUT.exists() and OUTPUT.read_text() == text:
            return 0
        print(f"{OUTPUT} is out of date; run python docs/generate_zoo.py", file=sys.stderr)
        return 1
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT} ({len(rows_of(text))} rows)")
    return 0


def rows_of(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("| [")]


if __name__ == "__main__":
    sys.exit(main())
