"""How long from an edit to its diagnostics in `cnndsl lsp`?

The server runs in this process, warm (the spec was opened and checked once), and
is driven through its JSON-RPC protocol exactly as stdio would drive it: each
`textDocument/didChange` is a JSON message handed to the protocol, and the clock
stops when the server writes the matching `textDocument/publishDiagnostics`.
Each edit changes the network (`fc(classes + k)`), so nothing is answered from a
cache but the unchanged imported library.  Edits are spaced like keystrokes after a
pause (longer than the typing throttle), so each is checked on arrival; a second
measurement sends a burst of edits back to back, where the throttle coalesces them.

    python benchmarks/lsp_latency.py [--edits 50] [--blocks 2000] [--markdown]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from check_speed import generated_spec, machine  # noqa: E402  (same generated network)

from cnndsl.lsp.server import create_server  # noqa: E402


class Client:
    """Talks to an in-process server: messages in through its protocol, out through a
    writer that timestamps every publishDiagnostics."""

    def __init__(self):
        self.server = create_server()
        self.server.protocol.set_writer(self, include_headers=False)
        self.published: dict[str, list] = {}
        self.arrived = asyncio.Event()
        self.ids = 0

    def write(self, data: bytes) -> None:
        message = json.loads(data)
        if message.get("method") == "textDocument/publishDiagnostics":
            params = message["params"]
            self.published.setdefault(params["uri"], []).append(
                ((time.perf_counter(), time.process_time()), params["version"],
                 params["diagnostics"]))
            self.arrived.set()

    def close(self) -> None:
        pass

    def send(self, method: str, params: dict, request: bool = False) -> None:
        message = {"jsonrpc": "2.0", "method": method, "params": params}
        if request:
            self.ids += 1
            message["id"] = self.ids
        protocol = self.server.protocol
        protocol.handle_message(json.loads(json.dumps(message),
                                           object_hook=protocol.structure_message))

    async def diagnostics(self, uri: str, version: int) -> tuple[tuple[float, float], list]:
        """When (wall clock, CPU time) the diagnostics of `version` were written."""
        while True:
            for stamp, v, diagnostics in self.published.get(uri, []):
                if v == version:
                    return stamp, diagnostics
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), 60)


def edited(text: str, k: int) -> str:
    return text.replace("fc(classes)", f"fc(classes + {k})")


async def measure(path: Path, edits: int, pause: float) -> dict:
    client = Client()
    client.send("initialize", {"processId": None, "capabilities": {}}, request=True)
    client.send("initialized", {})
    uri = path.as_uri()
    text = path.read_text()
    start = time.perf_counter()
    client.send("textDocument/didOpen", {"textDocument": {
        "uri": uri, "languageId": "cnn", "version": 1, "text": text}})
    (stamp, _), diagnostics = await client.diagnostics(uri, 1)
    assert diagnostics == [], diagnostics
    opened = stamp - start
    times, cpu = [], []
    for k in range(edits):
        await asyncio.sleep(pause)  # a pause in typing: the next edit is checked at once
        version = k + 2
        start, start_cpu = time.perf_counter(), time.process_time()
        client.send("textDocument/didChange", {
            "textDocument": {"uri": uri, "version": version},
            "contentChanges": [{"text": edited(text, k + 1)}]})
        (stamp, stamp_cpu), diagnostics = await client.diagnostics(uri, version)
        assert diagnostics == [], diagnostics
        times.append(stamp - start)
        cpu.append(stamp_cpu - start_cpu)
    # a burst: 20 edits at once, as fast as a client can send them
    before = len(client.published[uri])
    start = time.perf_counter()
    last = edits + 1 + 20
    for version in range(edits + 2, last + 1):
        client.send("textDocument/didChange", {
            "textDocument": {"uri": uri, "version": version},
            "contentChanges": [{"text": edited(text, version)}]})
    (stamp, _), _ = await client.diagnostics(uri, last)
    return {"open": opened, "times": times, "cpu": cpu, "burst": stamp - start,
            "burst_checks": len(client.published[uri]) - before,
            "layers": len(client.server.checked[uri].graph.nodes) - 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=50)
    parser.add_argument("--blocks", type=int, default=2000)
    parser.add_argument("--pause", type=float, default=0.25,
                        help="seconds between edits (longer than the 150 ms throttle)")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        generated = Path(tmp) / f"generated{args.blocks}.cnn"
        generated.write_text(generated_spec(args.blocks))
        for name, path in (("specs/resnet152.cnn", ROOT / "specs" / "resnet152.cnn"),
                           (f"generated {args.blocks:,} blocks", generated)):
            result = asyncio.run(measure(path, args.edits, args.pause))
            times = sorted(result["times"])
            rows.append((name, result["layers"], statistics.median(times) * 1000,
                         times[int(0.9 * (len(times) - 1))] * 1000, times[0] * 1000,
                         times[-1] * 1000, statistics.median(result["cpu"]) * 1000,
                         result["open"] * 1000, result["burst"] * 1000,
                         result["burst_checks"]))
    load = os.getloadavg()[0]
    print(f"machine: {machine()}; {time.strftime('%Y-%m-%d')}; load average {load:.2f}; "
          f"{args.edits} edits, {args.pause} s apart")
    if args.markdown:
        print("\n| spec | layers | median ms | p90 ms | min ms | max ms | median CPU ms "
              "| first open ms | burst of 20: ms to last, checks |\n"
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, layers, median, p90, low, high, cpu, opened, burst, checks in rows:
        if args.markdown:
            print(f"| {name} | {layers} | {median:.1f} | {p90:.1f} | {low:.1f} | {high:.1f} | "
                  f"{cpu:.1f} | {opened:.1f} | {burst:.0f}, {checks} |")
        else:
            print(f"{name:28s} {layers:6d} layers  median {median:7.1f} ms  p90 {p90:7.1f}  "
                  f"min {low:7.1f}  max {high:7.1f}  CPU {cpu:7.1f}  open {opened:7.1f}  "
                  f"burst {burst:6.0f} ms / {checks} checks")


if __name__ == "__main__":
    main()
