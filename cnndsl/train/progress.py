"""Progress display: a rich progress bar on a terminal, plain lines otherwise.

Plain mode (stdout redirected to a file, CI logs) prints one line per epoch and
nothing in between, so logs stay readable.  Only rank 0 displays anything."""

from __future__ import annotations

import sys
import time

from cnndsl.escape import terminal


def epoch_line(row: dict, epochs: int, eta: float) -> str:
    return (f"epoch {row['epoch']:>{len(str(epochs))}}/{epochs}  "
            f"train loss {row['train_loss']:.4f} acc {100 * row['train_acc']:5.2f}%  "
            f"val loss {row['val_loss']:.4f} acc {100 * row['val_acc']:5.2f}%  "
            + (f"top-5 {100 * row['val_top5']:5.2f}%  " if "val_top5" in row else "")
            + f"lr {row['lr']:.2e}  {row['images_per_s']:,.0f} img/s  {row['seconds']:.1f}s"
            + (f"  ETA {_clock(eta)}" if eta > 0 else ""))


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds}s"


class Progress:
    """Reports steps and epochs; `enabled=False` (ranks other than 0) makes it silent."""

    def __init__(self, epochs: int, enabled: bool = True, fancy: bool | None = None, stream=None):
        self.epochs, self.enabled = epochs, enabled
        self.stream = stream or sys.stdout
        self.fancy = enabled and (fancy if fancy is not None else self.stream.isatty())
        self._bar = None
        self._task = None
        self._epoch_times: list[float] = []

    # one-off lines (setup notes, final summary)
    def note(self, text: str) -> None:
        if not self.enabled:
            return
        text = terminal(text)  # paths and names from the command line and the data
        if self._bar is not None:
            self._bar.console.print(text, highlight=False, markup=False, soft_wrap=True)
        else:
            print(text, file=self.stream, flush=True)

    def start_epoch(self, epoch: int, steps: int) -> None:
        self._epoch_start = time.perf_counter()
        if not self.fancy:
            return
        if self._bar is None:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress as Bar,
                                       TextColumn, TimeRemainingColumn)
            self._bar = Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[stats]}"), TimeRemainingColumn(),
                            transient=True)
            self._bar.start()
            self._task = self._bar.add_task("", total=steps, stats="")
        self._bar.reset(self._task, total=steps, description=f"epoch {epoch}/{self.epochs}",
                        stats="")

    def step(self, done: int, loss: float, acc: float, images: int) -> None:
        if not self.fancy:
            return
        elapsed = max(time.perf_counter() - self._epoch_start, 1e-9)
        self._bar.update(self._task, completed=done,
                         stats=f"loss {loss:.4f} acc {100 * acc:5.2f}% {images / elapsed:,.0f} img/s")

    def end_epoch(self, row: dict) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=self._bar.tasks[0].total)
        self._epoch_times.append(row["seconds"])
        recent = self._epoch_times[-3:]
        eta = (self.epochs - row["epoch"]) * sum(recent) / len(recent)
        self.note(epoch_line(row, self.epochs, eta))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
