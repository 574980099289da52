"""Where `cnndsl check` spends its time, phase by phase, in one process: parsing,
elaborating and analysing a generated spec of residual blocks (CPU seconds, best
of --repeats; CPU time, unlike wall time, barely moves on a shared machine).

    python benchmarks/check_phases.py [--blocks 2000] [--repeats 5]

Run it with PYTHONPATH pointing at two checkouts to compare them phase by phase.
"""

from __future__ import annotations

import argparse
import time

from check_speed import generated_spec

import cnndsl
from cnndsl.analysis import analyse
from cnndsl.elaborate.elaborator import elaborate
from cnndsl.elaborate.program import load_program


def best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    text = generated_spec(args.blocks)
    program = load_program(text, "generated.cnn")
    graph, _ = elaborate(program)
    print(f"cnndsl from {cnndsl.__file__}; {args.blocks:,} blocks, {len(graph.nodes) - 1:,} "
          f"layers; CPU seconds, best of {args.repeats}")
    print(f"parse      {best(lambda: load_program(text, 'generated.cnn'), args.repeats):.3f}")
    print(f"elaborate  {best(lambda: elaborate(program), args.repeats):.3f}")
    print(f"analyse    {best(lambda: analyse(graph), args.repeats):.3f}")


if __name__ == "__main__":
    main()
