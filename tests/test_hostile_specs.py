"""Issue 11 items 5, 7, 9 and 10, and the spec-side cases of item 4: hostile and huge
specs get clear errors at file:line:col, quickly and in little memory (each run
here under a hard memory and time bound), and the limits of docs/limits.md say
their numbers."""

from __future__ import annotations

import os
import resource
import subprocess
import sys

import pytest

import cnndsl
from cnndsl.cli import main

from conftest import ROOT

NET = "network n {{\n  input 1x8x8\n  {body}\n}}\n"


def bounded(argv, memory_mib=400, seconds=30, stdin=None, env=None):
    """`python -m cnndsl ARGV` in a process that may not use more than `memory_mib`
    of address space or `seconds` of CPU: an unbounded parse or elaboration fails
    here instead of passing slowly."""
    def limit():
        size = memory_mib << 20
        resource.setrlimit(resource.RLIMIT_AS, (size, size))
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds))
    return subprocess.run([sys.executable, "-m", "cnndsl", *map(str, argv)],
                          capture_output=True, text=True, input=stdin, timeout=seconds * 3,
                          preexec_fn=limit, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def check(capsys, text, tmp_path, name="spec.cnn"):
    path = tmp_path / name
    path.write_text(text) if isinstance(text, str) else path.write_bytes(text)
    code = main(["check", "-q", str(path)])
    return code, capsys.readouterr().err


# ---- item 5: unbounded resources ---------------------------------------------------

def test_a_50_mb_spec_is_refused_before_it_is_read(tmp_path):
    spec = tmp_path / "huge.cnn"
    with open(spec, "w") as handle:
        handle.write("network n {\n  input 1x8x8\n")
        handle.write("  conv(4, 1)\n" * 4_000_000)  # 52 MB
        handle.write("}\n")
    result = bounded(["check", spec], memory_mib=300, seconds=10)
    assert result.returncode == 1, result.stderr
    assert "over the limit of 1,048,576 bytes" in result.stderr
    assert "CNNDSL_MAX_SPEC_BYTES" in result.stderr and "Traceback" not in result.stderr


def test_a_1_2_mb_spec_is_refused_at_once(tmp_path):
    """It took 13.8 s to reject; the size limit refuses it before parsing."""
    spec = tmp_path / "big.cnn"
    spec.write_text("network n {\n  input 1x8x8\n" + "  conv(4, 1); relu\n" * 66_000 + "}\n")
    assert spec.stat().st_size > 1_200_000
    result = bounded(["check", spec], memory_mib=300, seconds=5)
    assert result.returncode == 1 and "over the limit" in result.stderr


def test_a_huge_expression_stops_while_it_is_read(tmp_path):
    """A 20 MB expression took 3.1 GB; one statement may hold 10,000 tokens, and the
    parser stops at the 10,001st, before any tree of it is built."""
    spec = tmp_path / "expr.cnn"
    spec.write_text(NET.format(body="conv(" + "1+" * 400_000 + "1, 3)"))  # 800 KB
    result = bounded(["check", spec], memory_mib=300, seconds=10)
    assert result.returncode == 1
    assert f"{spec}:3:" in result.stderr and "10,001 tokens" in result.stderr
    assert "over the limit of 10,000 tokens" in result.stderr
    assert max(map(len, result.stderr.splitlines())) < 400  # the quote is a window


def test_exponential_block_doubling_is_refused_before_it_is_built(tmp_path):
    """It took 21 s (200,000 layers built, then refused); a lower bound on the
    layers, read from the AST, refuses it in milliseconds."""
    lines = ["block b0(c) { conv(c, 1) }"]
    lines += [f"block b{k}(c) {{ b{k - 1}(c); b{k - 1}(c) }}" for k in range(1, 40)]
    spec = tmp_path / "doubling.cnn"
    spec.write_text("\n".join(lines) + "\nnetwork n {\n  input 1x8x8\n  b39(4)\n}\n")
    result = bounded(["check", spec], memory_mib=300, seconds=3)
    assert result.returncode == 1
    assert f"{spec}:43:3: error: the network elaborates to at least 549,755,813,888 layers" \
        in result.stderr and "over the limit of 100,000 layers" in result.stderr


def test_doubling_hidden_behind_parameters_is_still_bounded(tmp_path):
    """`repeat n` with n from a parameter is invisible to the static bound: the layer
    limit still stops elaboration (lowered here to 5,000 to keep the test short; at
    the default 100,000 it takes about 10 s)."""
    lines = ["block b0(c) { conv(c, 1) }"]
    lines += [f"block b{k}(c, n = 2) {{ repeat n {{ b{k - 1}(c) }} }}" for k in range(1, 30)]
    spec = tmp_path / "hidden.cnn"
    spec.write_text("\n".join(lines) + "\nnetwork n {\n  input 1x8x8\n  b29(4)\n}\n")
    result = bounded(["check", spec], memory_mib=400, seconds=20,
                     env={"CNNDSL_MAX_LAYERS": "5000"})
    assert result.returncode == 1 and "more than 5,000 layers" in result.stderr


def test_the_limits_can_be_raised_and_lowered(tmp_path):
    spec = tmp_path / "small.cnn"
    spec.write_text(NET.format(body="conv(4, 1); relu; conv(4, 1)"))
    assert bounded(["check", "-q", spec], env={"CNNDSL_MAX_LAYERS": "2"}).returncode == 1
    assert bounded(["check", "-q", spec], env={"CNNDSL_MAX_SPEC_BYTES": "10"}).returncode == 1
    result = bounded(["check", "-q", spec], env={"CNNDSL_MAX_LAYERS": "many"})
    assert result.returncode == 1 and "CNNDSL_MAX_LAYERS must be a whole number" in result.stderr


def test_ten_billion_parameters_pass_check_with_a_warning_and_stop_build_and_train(tmp_path):
    """`fc(100000); fc(100000)` passed check, then build --target onnx and train died
    allocating 40 GB.  They refuse before allocating: within 8 GiB of address space
    (torch alone maps 3 GiB of it)."""
    spec = tmp_path / "wide.cnn"
    spec.write_text("network wide(classes = 10) {\n  input 1x8x8\n  flatten\n"
                    "  fc(100000); fc(100000); fc(classes)\n}\n")
    result = bounded(["check", spec])
    assert result.returncode == 0 and "warning: network wide has 10,007,600,010 parameters" \
        in result.stderr and "--allow-large" in result.stderr
    for argv in (["build", spec, "--target", "onnx", "-o", tmp_path / "wide.onnx"],
                 ["train", spec, "--out", tmp_path / "run"],
                 ["time", spec]):
        result = bounded(argv, memory_mib=8192, seconds=60)
        assert result.returncode == 1, (argv, result.stderr)
        assert f"{spec}:4:15: error: network wide has 10,007,600,010 parameters (37.3 GiB " \
               "as float32; the largest layer, fc2, has 10,000,100,000), over the limit of " \
               "1,000,000,000" in result.stderr
        assert "pass --allow-large" in result.stderr
    assert not (tmp_path / "wide.onnx").exists() and not (tmp_path / "run").exists()


def test_activation_memory_of_one_batch_is_bounded(tmp_path):
    """1.1 TB of activations at batch 64: refused before time allocates (run under a
    memory cap, so a regression fails here instead of exhausting the machine)."""
    spec = tmp_path / "wide.cnn"
    spec.write_text("network wide {\n  input 3x4096x4096\n  conv(256, 3, pad=1)\n}\n")
    result = bounded(["time", spec, "--batch", "64"], memory_mib=8192, seconds=60)
    assert result.returncode == 1, result.stderr
    assert "the activations (float32) take" in result.stderr
    assert "at batch size 64" in result.stderr


# ---- item 7: values valid in Python but not in float32 ------------------------------

@pytest.mark.parametrize("body, column, message", [
    ("leaky_relu(1e300)", 14, "leaky_relu slope: 1e+300 is too large for float32"),
    ("lrn(alpha=1e300)", 13, "lrn alpha: 1e+300 is too large for float32"),
    ("bn(eps=1e-60)", 10, "bn eps: 1e-60 is too small for float32"),
    ("conv(4, 3, pad=(-1)**0.5)", 19, "(-1) ** 0.5 is not a real number"),
    ("leaky_relu(2.0**1024)", 14, "number too large"),
    ("conv(" + "9" * 5000 + ", 3)", 8, "number too large (5,000 digits"),
])
def test_values_that_float32_cannot_hold_are_errors(capsys, tmp_path, body, column, message):
    code, err = check(capsys, NET.format(body=body), tmp_path)
    assert code == 1, err
    assert err.startswith(f"{tmp_path / 'spec.cnn'}:3:{column}: error: {message}"), err


def test_a_tiny_power_is_not_too_large(capsys, tmp_path):
    """2**-1074/2 was reported as "number too large"; it is 0.0, a valid slope."""
    code, err = check(capsys, NET.format(body="leaky_relu(2**-1074/2)"), tmp_path)
    assert code == 0, err
    net = cnndsl.load(tmp_path / "spec.cnn")
    assert net.graph.nodes[1].attrs["slope"] == 0.0


def test_onnx_attributes_stay_finite():
    onnx = pytest.importorskip("onnx")
    net = cnndsl.loads(NET.format(body="leaky_relu(3e38); lrn(alpha=1e38)"))
    model = net.to_onnx("/dev/null")
    import math
    floats = [a.f for node in model.graph.node for a in node.attribute
              if a.type == onnx.AttributeProto.FLOAT]
    assert floats and all(math.isfinite(f) for f in floats)


# ---- item 9: a diagnostic never quotes a file that is not a spec --------------------

@pytest.mark.parametrize("target", ["/proc/self/environ", "/etc/hostname", "notes.txt"])
def test_importing_a_file_that_is_not_a_spec_quotes_nothing_of_it(capsys, tmp_path, target,
                                                                  monkeypatch):
    (tmp_path / "notes.txt").write_text("SECRET=hunter2\n")
    monkeypatch.setenv("CNNDSL_CANARY", "canary-value-42")
    code, err = check(capsys, f'import "{target}"\n' + NET.format(body="conv(4, 1)"), tmp_path)
    assert code == 1
    assert f"cannot import '{target}'" in err and "only .cnn spec files can be imported" in err
    assert "hunter2" not in err and "canary-value-42" not in err


def test_a_link_named_cnn_to_another_file_is_not_imported(capsys, tmp_path):
    (tmp_path / "secret.txt").write_text("network {{{ SECRET=hunter2\n")
    os.symlink(tmp_path / "secret.txt", tmp_path / "lib.cnn")
    code, err = check(capsys, 'import "lib.cnn"\n' + NET.format(body="conv(4, 1)"), tmp_path)
    assert code == 1 and "a link to" in err and "hunter2" not in err


def test_a_symlink_loop_in_imports_is_a_clear_error(capsys, tmp_path):
    os.symlink(tmp_path / "b.cnn", tmp_path / "a.cnn")
    os.symlink(tmp_path / "a.cnn", tmp_path / "b.cnn")
    code, err = check(capsys, 'import "a.cnn"\n' + NET.format(body="conv(4, 1)"), tmp_path)
    assert code == 1 and "its links go round in a loop" in err
    assert err.startswith(f"{tmp_path / 'spec.cnn'}:1:1: error:")


def test_imports_count_toward_the_spec_size_limit(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CNNDSL_MAX_SPEC_BYTES", "4000")
    (tmp_path / "lib.cnn").write_text("# padding\n" * 400)
    code, err = check(capsys, 'import "lib.cnn"\n' + NET.format(body="conv(4, 1)"), tmp_path)
    assert code == 1 and "over the limit of 4,000 bytes" in err


# ---- item 10 ------------------------------------------------------------------------

def test_a_non_utf8_spec_gets_line_and_column(capsys, tmp_path):
    code, err = check(capsys, NET.format(body="conv(4, \xff1)").encode("latin-1"), tmp_path)
    assert code == 1
    assert err.startswith(f"{tmp_path / 'spec.cnn'}:3:11: error: ") and "0xff" in err
    assert "byte 3" not in err  # no bare byte offset


@pytest.mark.parametrize("command", [["check"], ["graph", "-o", "{tmp}/n.md"],
                                     ["build", "--target", "torch", "-o", "{tmp}/n.py"]])
def test_dash_reads_the_spec_from_stdin(tmp_path, command):
    argv = [command[0], "-", *(a.format(tmp=tmp_path) for a in command[1:])]
    result = bounded(argv, memory_mib=2000, stdin=NET.format(body="conv(4, 1)"))
    assert result.returncode == 0, result.stderr
    if command == ["check"]:
        assert result.stdout.startswith("n (<stdin>), input 1x8x8")


def test_stdin_errors_name_stdin(tmp_path):
    result = bounded(["check", "-"], stdin=NET.format(body="conv(4, 1"))
    assert result.returncode == 1 and result.stderr.startswith("<stdin>:4:1: error:")


def test_train_explains_it_needs_a_spec_file(capsys):
    assert main(["train", "-"]) == 1
    assert "needs the spec as a file" in capsys.readouterr().err
