"""`cnndsl eval SPEC --weights CKPT`: accuracy and confusion matrix on held-out data."""

from __future__ import annotations

from cnndsl.commands._spec import add_allow_large

HELP = "evaluate trained weights: accuracy and confusion matrix on held-out data"
ORDER = 40


def configure(parser) -> None:
    parser.add_argument("spec", help="the .cnn file the weights were trained from")
    parser.add_argument("--weights", required=True, metavar="CKPT",
                        help="a checkpoint written by cnndsl train (best.pt or last.pt)")
    parser.add_argument("--data", metavar="SOURCE",
                        help="data source (default: the one the checkpoint was trained on)")
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    add_allow_large(parser)


def run(args) -> int:
    import sys

    from cnndsl.escape import json_text, terminal
    from cnndsl.train.evaluate import evaluate, render
    notes: list[str] = []
    result = evaluate(args.spec, args.weights, args.data, args.device, notes,
                      bool(args.allow_large))
    for note in notes:
        print(terminal(note), file=sys.stderr)
    # JSON has no NaN: a loss that is not a finite number is null (docs/training.md)
    print(json_text(result) if args.format == "json" else render(result))
    return 0
