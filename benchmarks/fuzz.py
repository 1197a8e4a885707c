"""Protocol fuzzing: N generated inputs (benchmarks/reliability/inputs.py) sent to one real
`stipple serve` on stdio as raw framed bytes. Checked after every batch: the process is alive and every
request with an integer or string id got a response (a result or a JSON-RPC error); after input that
breaks the framing, a probe is answered; the server's RSS is sampled throughout; it opens no internet
socket. Then big documents (10 MB of code, of one line, of binary bytes).

    nice -n 15 .venv/bin/python -m benchmarks.fuzz --inputs 10000 --output benchmarks/results/reliability/fuzz.json

Needs the dev extras (hypothesis). A short slice runs in CI (tests/benchmarks/test_fuzz.py).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.reliability import inputs as gen
from benchmarks.reliability.wire import FAST, WireServer, frame

DEFAULTS = {"maxPrefixTokens": 384, "maxSuffixTokens": 128, "strategy": "confidence", "threshold": 0.9,
            "languages": {"python": True, "javascript": True, "typescript": True, "typescriptreact": True,
                          "rust": True, "go": True}, "logLevel": "info", "reuseContext": True, "healCursor": True,
            "workspaceBudgetShare": 0.25, "workspaceContext": True, "workspaceExclude": []}
# After random settings, every setting the fuzzer touches goes back, so later inputs reach the engine.
RESTORE = gen.notification("workspace/didChangeConfiguration", {"settings": {"stipple": {**DEFAULTS, **FAST}}})


@dataclass
class FuzzReport:
    inputs: int = 0
    messages: int = 0
    requests: int = 0
    answered: int = 0
    errors: int = 0
    """Requests answered with a JSON-RPC error (the rest got a result)."""
    unanswered: list[str] = field(default_factory=list)
    probes_lost: int = 0
    """Probes swallowed by a broken frame before the stream was back in step (a later probe was answered)."""
    resync_failed: list[str] = field(default_factory=list)
    kinds: Counter = field(default_factory=Counter)
    rss_mb: list[float] = field(default_factory=list)
    crashed: str | None = None
    inet_sockets: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (not self.unanswered and not self.resync_failed and self.crashed is None
                and not self.inet_sockets)

    def as_dict(self) -> dict:
        return {"inputs": self.inputs, "messages": self.messages, "requests": self.requests,
                "answered": self.answered, "answered_with_error": self.errors, "unanswered": self.unanswered[:20],
                "probes_lost_to_broken_frames": self.probes_lost, "resync_failed": self.resync_failed[:20],
                "kinds": dict(self.kinds), "crashed": self.crashed, "inet_sockets": self.inet_sockets,
                "rss_mb": {"start": self.rss_mb[0] if self.rss_mb else None, "max": max(self.rss_mb, default=None),
                           "end": self.rss_mb[-1] if self.rss_mb else None},
                "seconds": round(self.seconds, 1), "ok": self.ok}


class Fuzzer:
    def __init__(self, server: WireServer, timeout: float = 30.0) -> None:
        self.server, self.timeout, self.report = server, timeout, FuzzReport()
        self._ids = itertools.count(1)

    def send(self, item: Any) -> str | None:
        """One item out; the id that must be answered, if any."""
        self.report.messages += 1
        if isinstance(item, bytes):
            self.server.send_bytes(item)
            return None
        if item.get("id") == gen.ANSWER:
            item = {**item, "id": f"fuzz-{next(self._ids)}"}
        self.server.send(item)
        msg_id = item.get("id")
        return msg_id if isinstance(msg_id, (int, str)) and not isinstance(msg_id, bool) \
            and isinstance(item.get("method"), str) else None

    def run(self, batch: list[gen.Input]) -> None:
        """Send a batch, then wait for every answer it is owed."""
        owed: list[tuple[str, gen.Input]] = []
        for one in batch:
            self.report.inputs += 1
            self.report.kinds[one.kind] += 1
            owed += [(msg_id, one) for item in one.items if (msg_id := self.send(item)) is not None]
            if one.resync:
                self.resync(one)
            if one.kind == "random settings":
                self.send(RESTORE)
        for msg_id, one in owed:
            self.report.requests += 1
            reply = self.server.wait(msg_id, self.timeout)
            if reply is None:
                self.report.unanswered.append(f"{one.kind}: {msg_id}: {repr(one.items)[:400]}")
            else:
                self.report.answered += 1
                self.report.errors += "error" in reply
        self.check_alive()

    def resync(self, one: gen.Input) -> None:
        """After broken framing: a line break and a probe, up to four times, until a probe is answered."""
        for attempt in range(4):
            msg_id = f"probe-{next(self._ids)}"
            self.server.send_bytes(b"\r\n" + frame({"jsonrpc": "2.0", "id": msg_id,
                                                        "method": "workspace/executeCommand",
                                                        "params": {"command": "stipple.status"}}))
            if self.server.wait(msg_id, 0.5 if attempt < 3 else self.timeout) is not None:
                self.report.probes_lost += attempt
                return
        self.report.resync_failed.append(repr(one.items[0][:120]))

    def check_alive(self) -> None:
        if not self.server.alive and self.report.crashed is None:
            self.report.crashed = f"exit status {self.server.proc.returncode}; log tail:\n" \
                                  + self.server.log_text()[-3000:]
        if self.server.alive:
            self.report.rss_mb.append(round(self.server.rss_mb(), 1))


def fuzz(count: int, seed: int = 0, batch: int = 25, heavy_mb: int = 10, progress=print) -> FuzzReport:
    started = time.perf_counter()
    server = WireServer()
    status = server.start()
    assert status["ready"], status
    fuzzer = Fuzzer(server)
    fuzzer.check_alive()
    try:
        drawn = gen.draw(count, seed)
        for start in range(0, len(drawn), batch):
            fuzzer.run(drawn[start:start + batch])
            if fuzzer.report.crashed:
                break
            if progress and (start // batch) % 40 == 0:
                progress(f"{fuzzer.report.inputs}/{len(drawn)} inputs, rss {fuzzer.report.rss_mb[-1]} MB, "
                         f"unanswered {len(fuzzer.report.unanswered)}")
        if heavy_mb and not fuzzer.report.crashed:
            for one in gen.heavy(heavy_mb):
                fuzzer.run([one])
        final = server.status() if server.alive else None
        if final is None and fuzzer.report.crashed is None:
            fuzzer.report.crashed = "stipple.status unanswered at the end"
        fuzzer.report.inet_sockets = server.inet_sockets() if server.alive else []
        fuzzer.check_alive()
    finally:
        server.stop()
    fuzzer.report.seconds = time.perf_counter() - started
    return fuzzer.report


def main(argv: list[str] | None = None) -> int:
    from benchmarks.latency.runner import machine_info

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--heavy-mb", type=int, default=10, help="size of the big documents (0: none)")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    load = os.getloadavg()
    report = fuzz(args.inputs, args.seed, heavy_mb=args.heavy_mb)
    result = {"benchmark": "fuzz", "seed": args.seed, "settings": FAST, **report.as_dict(),
              "machine": machine_info(1, load)}
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=2))
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
