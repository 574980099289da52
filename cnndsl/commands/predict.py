"""`cnndsl predict SPEC --weights W INPUT...`: classify images with a trained network."""

from __future__ import annotations

HELP = "classify images with trained weights (torch, or an exported ONNX graph)"
ORDER = 45


def configure(parser) -> None:
    parser.add_argument("spec", help="the .cnn file the weights were trained from")
    parser.add_argument("--weights", required=True, metavar="W",
                        help="a cnndsl checkpoint (best.pt) or a plain/torchvision state dict")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders of them")
    parser.add_argument("--top", type=int, default=1, metavar="K",
                        help="how many classes to show per image (default 1)")
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table")
    parser.add_argument("--onnx", metavar="MODEL",
                        help="run this exported graph in ONNX Runtime instead of the torch module; "
                             "its metadata gives the preprocessing (docs/onnx.md)")
    parser.add_argument("--classes", metavar="FILE",
                        help="class names, one a line (for weights that record none)")
    parser.add_argument("--normalize", metavar="imagenet|MEAN,STD",
                        help="pixels / 255, then (x - MEAN) / STD, for weights that record none")
    parser.add_argument("--input", help="the input size for a plain state dict, e.g. 3x224x224")


def run(args) -> int:
    from cnndsl.errors import SpecError
    from cnndsl.escape import json_text
    from cnndsl.inference.images import image_files
    from cnndsl.inference.predict import predict, render_csv, render_table
    from cnndsl.inference.runners import onnx_runner, torch_runner
    if args.top < 1:
        raise SpecError(f"--top must be at least 1, got {args.top}")
    files = image_files(args.inputs)  # refused before any model is loaded
    runner = torch_runner(args.spec, args.weights, args)
    if args.onnx:
        runner = onnx_runner(args.onnx, runner, args)
    results = predict(files, runner, min(args.top, runner.outputs))
    render = {"json": json_text, "csv": render_csv, "table": render_table}[args.format]
    print(render(results))
    return 0
