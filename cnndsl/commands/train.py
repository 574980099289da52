"""`cnndsl train SPEC`: train the compiled network on real data (see docs/training.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cnndsl.commands._spec import add_spec_arguments

HELP = "train a spec on a data set, with progress, checkpoints and resume"
ORDER = 30


def configure(parser) -> None:
    from cnndsl.train.config import OPTIMIZERS, SCHEDULES
    add_spec_arguments(parser, stdin=False, allocates=True)
    parser.add_argument("--data", default=None, metavar="SOURCE",
                        help="digits (default), imagefolder:PATH, cifar10:PATH, mnist:PATH, "
                             "synthetic[:N]")
    parser.add_argument("--epochs", type=int, help="number of epochs (default 10)")
    parser.add_argument("--batch-size", type=int, help="global batch size (default 64)")
    parser.add_argument("--lr", type=float, help="peak learning rate (adamw 2e-3, sgd 0.05)")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, help="default adamw")
    parser.add_argument("--schedule", choices=SCHEDULES,
                        help="learning-rate schedule per step (default cosine with warm-up)")
    parser.add_argument("--weight-decay", type=float, help="adamw 0.01, sgd 5e-4")
    parser.add_argument("--label-smoothing", type=float, help="default 0.1")
    from cnndsl.train.augment import PRESETS
    parser.add_argument("--augment", choices=PRESETS, default=None,
                        help="augmentation preset (default: shift for digits, mnist and synthetic, "
                             "cifar for cifar10, imagenet for imagefolder; docs/training.md)")
    parser.add_argument("--no-augment", dest="augment", action="store_const", const="none",
                        help="the same as --augment none")
    parser.add_argument("--val-split", type=float, metavar="F",
                        help="imagefolder: hold out this fraction of each class of one folder "
                             "(stratified, by --seed)")
    parser.add_argument("--patience", type=int, metavar="N",
                        help="stop when validation accuracy has not improved for N epochs "
                             "(best.pt keeps the best)")
    parser.add_argument("--log", choices=("tensorboard",),
                        help="also log to TensorBoard, in DIR/tensorboard (needs tensorboard)")
    parser.add_argument("--aux-weight", action="append", default=[], metavar="HEAD=W",
                        help="the loss weight of an output head, e.g. aux1=0.3 (default: the "
                             "spec's, `output aux1(weight=0.3)`; the main output's is 1)")
    parser.add_argument("--device", help="auto (default), cpu, cuda or cuda:N")
    parser.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                        help="mixed precision autocast (default: on for CUDA)")
    parser.add_argument("--amp-dtype", choices=("bf16", "fp16"), help="default bf16")
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                        help="NHWC memory format (default: on for CUDA)")
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                        help="torch.compile the model (default: on for CUDA)")
    parser.add_argument("--out", metavar="DIR",
                        help="run folder (default runs/SPEC_NAME, numbered if it holds a run)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out (default: the latest runs/SPEC_NAME*)")
    parser.add_argument("--init", metavar="CHECKPOINT",
                        help="start from these weights (a cnndsl checkpoint or a state dict file), "
                             "paired by name")
    parser.add_argument("--by-order", action="store_true", default=None,
                        help="pair --init's tensors by declaration order, not by name")
    parser.add_argument("--freeze", action="append", default=[], metavar="PATTERN",
                        help="freeze layers whose hierarchical name matches, e.g. 'conv*' or basic1")
    parser.add_argument("--seed", type=int, help="random seed (default 0)")
    parser.add_argument("--workers", type=int, help="data-loader workers for on-disk data")
    parser.add_argument("--nproc-per-node", type=int,
                        help="data-parallel processes on this machine (DDP); or launch with torchrun")


# command-line option -> TrainConfig field, for the options that map one to one
_FIELDS = ("data", "input", "epochs", "batch_size", "lr", "optimizer", "schedule", "weight_decay",
           "label_smoothing", "augment", "device", "amp", "amp_dtype", "channels_last", "compile",
           "init", "by_order", "seed", "workers", "nproc_per_node", "allow_large", "val_split",
           "patience", "log")


def build_config(args):
    """A TrainConfig from parsed arguments; `given` lists the options actually set."""
    from cnndsl.commands._spec import parse_overrides
    from cnndsl.train.config import TrainConfig
    values = {name: getattr(args, name) for name in _FIELDS if getattr(args, name) is not None}
    config = TrainConfig(spec=args.spec, **values)
    config.set = parse_overrides(args.set)
    config.freeze = list(args.freeze)
    config.aux_weight = parse_aux_weights(args.aux_weight)
    config.resume = args.resume
    config.given = sorted(values) + (["set"] if args.set else []) + (["freeze"] if args.freeze else []) \
        + (["aux_weight"] if args.aux_weight else [])
    check_spec_path(args.spec)
    config.out = args.out or default_out(args.spec, args.resume)
    config.given.append("out")
    return config


def parse_aux_weights(items: list[str]) -> dict[str, float]:
    """`--aux-weight aux1=0.3` (repeatable) -> {"aux1": 0.3}."""
    from cnndsl.train.errors import TrainError
    weights = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            weight = float(value)
        except ValueError:
            weight = None
        if not sep or not name.strip().isidentifier() or weight is None:
            raise TrainError(f"--aux-weight expects HEAD=WEIGHT, e.g. aux1=0.3; got {item!r}")
        weights[name.strip()] = weight
    return weights


def check_spec_path(spec: str) -> None:
    """SpecError unless `spec` is a file: checked before a run folder is chosen."""
    from cnndsl.errors import SpecError
    if spec == "-":
        raise SpecError("cnndsl train needs the spec as a file, not '-' (standard input): the "
                        "run stores its path and reads it again on --resume",
                        hint="save the spec to a .cnn file first")
    if Path(spec).is_dir():
        raise SpecError(f"{spec} is a folder, not a .cnn spec file")
    if not Path(spec).is_file():
        raise SpecError(f"spec file {spec} does not exist")


def default_out(spec: str, resume: bool) -> str:
    """runs/NAME for a new run, runs/NAME-2, -3 ... when that already holds one;
    with --resume, the latest of them."""
    stem = Path(spec).stem
    candidates = [Path("runs") / stem] + [Path("runs") / f"{stem}-{k}" for k in range(2, 1000)]
    used = [c for c in candidates if (c / "last.pt").exists()]
    if resume:
        return str(used[-1] if used else candidates[0])
    return str(next(c for c in candidates if not c.exists() or (c.is_dir() and not any(c.iterdir()))))


def run(args) -> int:
    from cnndsl.train import distributed
    config = build_config(args)
    config.validate()
    context = distributed.from_environment()
    if context is not None:  # launched by torchrun: this process is one rank
        return distributed.run_worker(config.to_dict(), context)
    try:
        if config.nproc_per_node > 1:
            return distributed.spawn(config.to_dict(), config.nproc_per_node)
        from cnndsl.train.loop import train
        train(config)
    except KeyboardInterrupt:
        if not (Path(config.out) / "last.pt").is_file():
            raise  # nothing to continue: the command line's plain "interrupted"
        from cnndsl.escape import terminal
        print(terminal(f"cnndsl: interrupted; to continue the run: {resume_command(config)}"),
              file=sys.stderr)
        return 130
    return 0


def resume_command(config) -> str:
    """The command line that continues `config`'s run (--resume keeps its settings)."""
    import shlex
    return f"cnndsl train {shlex.quote(config.spec)} --resume --out {shlex.quote(str(config.out))}"
