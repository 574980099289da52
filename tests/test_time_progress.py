"""`cnndsl time`: an estimate of the run's length once one iteration is timed,
then progress, on stderr; the report on stdout stays clean."""

import io
import json
from pathlib import Path

import pytest

from cnndsl.profile import progress as progress_module
from cnndsl.profile.progress import TimeProgress

ROOT = Path(__file__).resolve().parent.parent


def fake_clock(monkeypatch, times):
    ticks = iter(times)
    monkeypatch.setattr(progress_module.time, "perf_counter", lambda: next(ticks))


def test_estimate_then_tenths_in_a_log(monkeypatch):
    # built at t=0, then 20 iterations of 3 s, the first one cold (9 s)
    fake_clock(monkeypatch, [0.0, 9.0] + [9.0 + 3 * k for k in range(1, 20)])
    stream = io.StringIO()
    shown = TimeProgress("net, batch 16 on cpu", stream, fancy=False)
    for done in range(0, 21):
        shown.iteration(done, 20)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "cnndsl time: net, batch 16 on cpu (20 in all)"
    assert lines[1] == "  first iteration 9.00s: estimated run length 3:00"
    assert lines[2] == "  second iteration 3.00s: revised estimate 1:06"  # 12 + 18 x 3
    progress = [line for line in lines if "iteration " in line and "/20" in line]
    assert len(progress) == 10  # one per tenth, not one per iteration
    assert progress[-1] == "  iteration 20/20  1:06 elapsed, about 0s left"
    assert "about 54s left" in progress[0]  # 18 left at the warm pace of 3 s


def test_terminal_rewrites_one_line(monkeypatch):
    fake_clock(monkeypatch, [0.0, 1.0, 2.0, 3.0])
    stream = io.StringIO()
    shown = TimeProgress("net", stream, fancy=True)
    for done in range(4):
        shown.iteration(done, 3)
    assert stream.getvalue().count("\r\x1b[2K") == 4
    assert stream.getvalue().endswith("iteration 3/3  3s elapsed, about 0s left\n")


pytest.importorskip("torch")


def test_cnndsl_time_shows_estimate_and_keeps_json_clean(capsys):
    from cnndsl.cli import main
    code = main(["time", str(ROOT / "specs" / "lenet5.cnn"), "--batch", "2", "--iterations",
                 "2", "--warmup", "1", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "estimated run length" in err and "iteration 3/3" in err
    assert json.loads(out)["network"] == "lenet5"
    code = main(["time", str(ROOT / "specs" / "lenet5.cnn"), "--batch", "2", "--iterations",
                 "1", "--warmup", "0", "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 0 and "estimated" not in err and "iteration" not in err
