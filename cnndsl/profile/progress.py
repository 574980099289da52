"""What `cnndsl time` shows while it measures, on stderr: what it is about to
run, an estimate of the run's length as soon as one iteration has been timed
(revised after the second when the first, which warms caches up, was far
slower), then its progress.

On a terminal one line is rewritten in place; elsewhere (a log, a pipe) a line
is printed at each tenth of the run, so a 97-second timing is never silent and
never floods a log.  stdout keeps only the report (the JSON stays clean)."""

from __future__ import annotations

import sys
import time


def _clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds}s"


class TimeProgress:
    """Receives iteration(done, total) from the timer: done = 0 when the module is
    built and measuring starts, then after every iteration (warm-up included)."""

    def __init__(self, what: str, stream=None, fancy: bool | None = None):
        self.what = what
        self.stream = stream or sys.stderr
        self.fancy = self.stream.isatty() if fancy is None else fancy
        self.start = self.first = None
        self.shown_tenth = 0
        self.lines: list[str] = []  # everything shown, for tests

    def _show(self, text: str, final: bool = True) -> None:
        self.lines.append(text)
        if self.fancy:
            self.stream.write("\r\x1b[2K" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def iteration(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if done == 0:
            self.start = now
            self._show(f"cnndsl time: {self.what} ({total} in all)")
            return
        elapsed = now - self.start
        if done == 1:
            self.first = elapsed
            self._show(f"  first iteration {elapsed:.2f}s: estimated run length "
                       f"{_clock(elapsed * total)}")
        elif done == 2 and total > 2:
            second = elapsed - self.first
            if self.first > 2 * second:  # the first ran cold: estimate from the second
                self._show(f"  second iteration {second:.2f}s: revised estimate "
                           f"{_clock(elapsed + second * (total - 2))}")
        tenth = int(10 * done / total)
        if done == 1 or (not self.fancy and tenth <= self.shown_tenth and done != total):
            return
        self.shown_tenth = tenth
        left = (elapsed - self.first) / (done - 1) * (total - done)  # the warm pace
        self._show(f"  iteration {done}/{total}  {_clock(elapsed)} elapsed, about "
                   f"{_clock(left)} left", final=done == total or not self.fancy)
