"""Write tests/data/zoo_modern.json: torchvision's parameter counts and fvcore's counts
for the zoo's newer torchvision twins, computed once (these are facts the tests compare
against; fvcore is not a dependency of cnndsl):

    pip install fvcore
    python tests/data/fvcore_reference.py

fvcore 0.1.5.post20221221, torchvision 0.29.1, torch 2.14.1, models in eval mode built
with weights=None (nothing is downloaded), one zero image at the listed size.  The
parameter counts of timm's models (no torchvision twin) are listed as given, from timm.
"""

import json
import logging
import sys
from pathlib import Path

import torch
from fvcore.nn import FlopCountAnalysis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_torch_backend import TWINS  # noqa: E402  (the builders the fidelity test uses)

OUTPUT = Path(__file__).with_name("zoo_modern.json")
NEWER = ["mobilenet_v3_small", "mobilenet_v3_large", "shufflenet_v2_x1_0", "efficientnet_b0",
         "convnext_tiny", "squeezenet1_1", "inception_v3"]
TIMM = {  # timm's parameter counts (timm.create_model(name).num_params), not computed here
    "inception_v4": ([3, 299, 299], 42_679_816),
    "inception_resnet_v2": ([3, 299, 299], 55_843_464),
    "dpn92": ([3, 224, 224], 37_668_392),
}


def main() -> None:
    logging.disable(logging.WARNING)  # fvcore's notes on uncounted element-wise ops
    facts = {}
    for name in NEWER:
        model = TWINS[name]().eval()
        size = 299 if name == "inception_v3" else 224
        counter = FlopCountAnalysis(model, torch.zeros(1, 3, size, size))
        counter.unsupported_ops_warnings(False)
        facts[name] = {"input": [3, size, size],
                       "params": sum(p.numel() for p in model.parameters()),
                       "fvcore_macs": counter.total(),
                       "fvcore_by_operator": dict(counter.by_operator())}
    for name, (shape, params) in TIMM.items():
        facts[name] = {"input": shape, "params": params,
                       "note": f"timm {name} (no torchvision twin); parameter count only"}
    OUTPUT.write_text(json.dumps(facts, indent=1) + "\n")
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()
