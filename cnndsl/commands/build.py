"""`cnndsl build SPEC --target torch|onnx -o OUT`: compile a spec to PyTorch source or ONNX."""

from __future__ import annotations

import importlib
import sys

from cnndsl.backends import TARGETS
from cnndsl.commands._spec import add_spec_arguments, load_spec, parse_overrides
from cnndsl.errors import SpecError
from cnndsl.escape import terminal

HELP = "compile a spec to standalone PyTorch source (--target torch) or an ONNX graph"
ORDER = 20


def configure(parser) -> None:
    add_spec_arguments(parser, allocates=True)
    parser.add_argument("--target", choices=sorted(TARGETS),
                        help="torch: a readable .py file; onnx: a .onnx graph (default: from the "
                             "suffix of -o, .py or .onnx)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="file to write; '-' writes the PyTorch source to standard output")
    parser.add_argument("--weights", metavar="CKPT",
                        help="weights to load: a checkpoint from cnndsl train (best.pt, last.pt) or "
                             "a saved state_dict (e.g. torchvision's), paired by name")
    parser.add_argument("--by-order", action="store_true",
                        help="pair --weights by declaration order, not by name (weights "
                             "named another way, e.g. torchvision's for an unlabelled spec)")
    parser.add_argument("--weights-out", metavar="PATH",
                        help="torch target: where to save the weights (default: OUT with .pt, "
                             "which replaces only a file an earlier build saved with OUT)")
    parser.add_argument("--inference", action="store_true",
                        help="torch target: the inference build (batch norm folded into conv/fc, "
                             "dropout and drop_path removed, activations in place); --weights "
                             "are folded into it")
    parser.add_argument("--opset", type=int, help="ONNX opset version (onnx target)")
    parser.add_argument("--no-fold-bn", dest="fold_bn", action="store_false",
                        help="keep batch norms as separate ONNX nodes (onnx target)")
    parser.add_argument("--with-preprocessing", action="store_true",
                        help="onnx target: the graph takes raw pixels (0-255) and applies the "
                             "checkpoint's scale and normalisation itself (docs/onnx.md)")


# -o suffix -> the target it implies when --target is left out
SUFFIXES = {".py": "torch", ".onnx": "onnx"}


def infer_target(args) -> str:
    """--target, or the one the suffix of -o names ('-' is source: torch)."""
    from pathlib import Path
    implied = "torch" if args.output == "-" else SUFFIXES.get(Path(args.output).suffix.lower())
    if args.target is None and implied is None:
        raise SpecError(f"cannot tell the target from -o {args.output}: give --target "
                        f"{' or '.join(sorted(TARGETS))}",
                        hint="or name the output " + " or ".join(f"*{s}" for s in SUFFIXES))
    if args.output == "-" and (args.target or implied) != "torch":
        raise SpecError("-o - writes PyTorch source to standard output; an ONNX graph is "
                        "binary: name a .onnx file")
    return args.target or implied


def run(args) -> int:
    from cnndsl.files import Outputs
    args.target = infer_target(args)
    if args.with_preprocessing and args.target != "onnx":
        raise SpecError("--with-preprocessing applies to --target onnx")
    if args.output == "-":
        return _to_stdout(args)
    if args.weights_out and not (args.weights and args.target == "torch"):
        raise SpecError("--weights-out names the weights file written beside the PyTorch "
                        "source: use it with --target torch and --weights")
    notes: list[str] = []
    net = _as_trained(args, notes) if args.weights else None
    net = net or load_spec(args)
    outputs = Outputs.for_network(net, weights=args.weights)
    outputs.derived_hint = ("move or delete it, or name the weights file yourself with "
                            "--weights-out PATH")
    outputs.target(args.output)  # refused before any work: an input, a folder, ...
    options = {"weights": args.weights, "weights_out": args.weights_out, "opset": args.opset,
               "fold_bn": args.fold_bn, "inference": args.inference, "outputs": outputs,
               "with_preprocessing": args.with_preprocessing, "by_order": args.by_order}
    if args.target == "torch" and args.weights:  # ... or a weights file it did not write
        from cnndsl.backends.torch import weights_target
        weights_target(args.output, options, outputs)
    if args.target == "onnx" and args.inference:
        print("cnndsl build: note: an ONNX graph is always an inference build (batch norm "
              "folded unless --no-fold-bn, no dropout); --inference adds nothing", file=sys.stderr)
    if args.target == "torch" and (args.opset is not None or not args.fold_bn):
        print("cnndsl build: note: --opset and --no-fold-bn apply to --target onnx; ignored",
              file=sys.stderr)
    try:
        backend = importlib.import_module(TARGETS[args.target])
    except ImportError as exc:
        raise SpecError(f"the {args.target} back end is not available: {exc}") from None
    from cnndsl.backends.torch.weights import WeightMismatchError  # no torch import
    try:
        backend.build_file(net, args.output, options)
    except WeightMismatchError as exc:
        print(terminal(f"cnndsl: error: {args.weights}: {exc}"), file=sys.stderr)
        return 1
    except OSError as exc:
        raise SpecError(f"cannot write {exc.filename or args.output}: "
                        f"{exc.strerror or exc}") from None
    for note in notes:
        print(terminal(note), file=sys.stderr)
    written = " and ".join(sorted(outputs.written, key=lambda p: p != args.output))
    print(terminal(f"wrote {written} ({args.target}, network {net.name})"), file=sys.stderr)
    return 0


def _to_stdout(args) -> int:
    """`-o -`: the PyTorch source on standard output (weights need a file: refused)."""
    if args.weights or args.weights_out:
        raise SpecError("-o - writes only the source; --weights needs a file to save them "
                        "beside: name the output, e.g. -o model.py")
    from cnndsl.backends.torch import generate_source
    sys.stdout.write(generate_source(load_spec(args)))
    return 0


def _as_trained(args, notes: list[str]):
    """The network as `cnndsl train` built it for the checkpoint in --weights (None
    for other weights files): training may have set `classes` from the data, and
    --input/--set given then are stored in the checkpoint.  What the user gives
    now still wins; a note says what differs from the spec's own defaults."""
    from cnndsl.network import load
    from cnndsl.state_dicts import load_file, training_setup
    note = load_file(args.weights, "weights file", cached=True)[1]  # read (and verified) once
    notes += [note] if note else []
    setup = training_setup(args.weights)
    if setup is None:
        return None
    shape, params = setup
    trained = load_spec(args, input="x".join(map(str, shape)), params=params)
    try:  # the spec's own defaults, only to say what the checkpoint changes
        plain = load(args.spec)
        defaults, default_shape = dict(plain.graph.params), plain.input_shape
    except SpecError:  # e.g. a spec without an input line of its own
        defaults, default_shape = {}, None
    told = [f"input {'x'.join(map(str, shape))}"] * (not args.input and shape != default_shape)
    told += [f"{k}={v}" for k, v in params.items()
             if defaults.get(k) != v and k not in parse_overrides(args.set)]
    if told:
        print(terminal(f"cnndsl build: note: building {trained.name} as the checkpoint was "
                       f"trained: {', '.join(told)}"), file=sys.stderr)
    return trained
