"""`cnndsl time SPEC`: per-layer forward and backward times of the compiled module."""

from __future__ import annotations

import sys

from cnndsl.commands._spec import add_spec_arguments, load_spec
from cnndsl.escape import json_text, terminal

HELP = "time each layer's forward and backward pass on the module cnndsl builds (caffe time)"
ORDER = 60


def configure(parser) -> None:
    add_spec_arguments(parser, allocates=True)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    parser.add_argument("--batch", type=int, default=16, help="batch size (default 16)")
    parser.add_argument("--iterations", type=int, default=10,
                        help="timed iterations; figures are medians (default 10)")
    parser.add_argument("--warmup", type=int, default=3,
                        help="untimed iterations first (default 3)")
    parser.add_argument("--forward-only", action="store_true",
                        help="time inference only: eval mode, no gradients")
    parser.add_argument("--amp", action="store_true",
                        help="autocast: float16 on CUDA, bfloat16 on the CPU")
    parser.add_argument("--channels-last", action="store_true",
                        help="module and input in channels-last memory format")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="CPU threads for PyTorch (default: PyTorch's own choice)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no estimate of the run length and no progress on stderr")


def run(args) -> int:
    net = load_spec(args, batch=args.batch)
    from cnndsl.profile import TimeOptions, TimingError, time_network
    from cnndsl.profile.report import render_table, to_json
    options = TimeOptions(device=args.device, batch=args.batch, iterations=args.iterations,
                          warmup=args.warmup, forward_only=args.forward_only, amp=args.amp,
                          channels_last=args.channels_last, threads=args.threads)
    from cnndsl.profile.progress import TimeProgress
    what = (f"{net.name}, batch {args.batch} on {args.device}, {args.warmup} warm-up + "
            f"{args.iterations} timed iterations")
    progress = TimeProgress(what) if args.progress else None
    try:
        timing = time_network(net, options, progress)
    except TimingError as exc:
        print(f"cnndsl time: {terminal(exc)}", file=sys.stderr)
        return 1
    print(json_text(to_json(timing)) if args.format == "json"
          else render_table(timing))
    return 0
