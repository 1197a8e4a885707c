"""Typing storm: N inline-completion requests at R per second with an edit before each, in bursts of 10
where only the last request is left to finish (90% superseded), against one real `stipple serve`.

Checked: no result for a stale document version, the engine's queue stays bounded, the p95 latency of
the surviving requests against the same server idle (one request at a time), and the RSS growth.

How staleness is seen from outside: before each request the client sends the edit and then a
stipple.status request. The server handles messages in order and answers that command at once, so
its reply leaves stdout after the edit was applied; stdout is one ordered stream. A non-empty result
for version v that arrives after the status reply sent behind edit v+1 is a stale result.

    nice -n 15 .venv/bin/python -m benchmarks.storm --requests 1000 --output benchmarks/results/reliability/storm.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.reliability.wire import WireServer

URI = "file:///storm/stats.py"
TEXT = "import math\n\n\ndef mean(values):\n    total = 0\n    for value in values:\n        total += value\n" \
       "    return total / len(values)\n\n\ndef spread(values):\n    centre = mean(values)\n    result = "
BURST = 10
TYPED = "centre * 2 + len(values) - 1\n    result = "  # typed over and over, a character per keystroke


@dataclass
class StormReport:
    idle_ms: list[float] = field(default_factory=list)
    survivor_ms: list[float] = field(default_factory=list)
    requests: int = 0
    superseded: int = 0
    answered: int = 0
    offered: int = 0
    stale_results: int = 0
    max_waiting: int = 0
    max_in_flight: int = 0
    rss_before_mb: float = 0.0
    rss_after_mb: float = 0.0
    counters: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        idle, live = p(self.idle_ms, 95), p(self.survivor_ms, 95)
        return {"requests": self.requests, "superseded_by_design": self.superseded, "answered": self.answered,
                "offered": self.offered, "stale_results": self.stale_results,
                "queue": {"max_waiting": self.max_waiting, "max_in_flight": self.max_in_flight},
                "idle": {"n": len(self.idle_ms), "p50_ms": p(self.idle_ms, 50), "p95_ms": idle},
                "survivors": {"n": len(self.survivor_ms), "p50_ms": p(self.survivor_ms, 50), "p95_ms": live},
                "p95_ratio": round(live / idle, 2) if idle else None,
                "rss_mb": {"before": self.rss_before_mb, "after": self.rss_after_mb,
                           "growth": round(self.rss_after_mb - self.rss_before_mb, 1)},
                "server_counters": self.counters}


def p(values: list[float], q: int) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, len(ordered) * q // 100)], 1) if ordered else 0.0


class Typist:
    """One document and the edits typed into it; each edit inserts one character at the cursor."""

    def __init__(self, server: WireServer) -> None:
        self.server, self.version, self.typed = server, 1, 0
        lines = TEXT.split("\n")
        self.line, self.col = len(lines) - 1, len(lines[-1])
        server.notify("textDocument/didOpen", {"textDocument": {"uri": URI, "languageId": "python", "version": 1,
                                                                "text": TEXT}})

    def type(self) -> None:
        """The next keystroke of TYPED."""
        char = TYPED[self.typed % len(TYPED)]
        self.typed += 1
        self.version += 1
        at = {"line": self.line, "character": self.col}
        self.server.notify("textDocument/didChange", {"textDocument": {"uri": URI, "version": self.version},
                                                      "contentChanges": [{"range": {"start": at, "end": at},
                                                                          "text": char}]})
        if char == "\n":
            self.line, self.col = self.line + 1, 0
        else:
            self.col += 1

    def mark(self) -> str:
        """A stipple.status request: answered the moment the server reads it (see the module docstring)."""
        return self.server.request_async("workspace/executeCommand", {"command": "stipple.status"})

    def ask(self) -> str:
        return self.server.request_async("textDocument/inlineCompletion", {
            "textDocument": {"uri": URI}, "position": {"line": self.line, "character": self.col},
            "context": {"triggerKind": 2}})


def timed(server: WireServer, msg_id: str, sent: float, timeout: float = 60) -> tuple[dict, float]:
    reply = server.wait(msg_id, timeout)
    if reply is None:
        raise TimeoutError(f"{msg_id} unanswered after {timeout} s")
    return reply, (time.perf_counter() - sent) * 1000


def storm(requests: int = 1000, rate: float = 50.0, idle: int = 40, settings: dict | None = None,
          progress=print) -> StormReport:
    server = WireServer(settings or {})
    report = StormReport()
    try:
        assert server.start()["ready"]
        typist = Typist(server)
        for i in range(idle + 5):  # 5 to warm up, then the idle baseline: one request at a time
            typist.type()
            server.wait(typist.mark())
            sent = time.perf_counter()
            _, ms = timed(server, typist.ask(), sent)
            if i >= 5:
                report.idle_ms.append(ms)
        report.rss_before_mb = round(server.rss_mb(), 1)
        owed: list[tuple[str, int]] = []  # (request id, the document version it asked about)
        markers: dict[int, str] = {}  # version -> the status request sent behind that version's edit
        gap = 1.0 / rate
        next_at = time.perf_counter()
        for i in range(requests):
            time.sleep(max(0.0, next_at - time.perf_counter()))
            next_at += gap
            typist.type()
            sent, msg_id = time.perf_counter(), typist.ask()
            markers[typist.version] = typist.mark()  # behind the request: it also sees the request queued
            owed.append((msg_id, typist.version))
            report.requests += 1
            if i % BURST == BURST - 1:  # the burst's last request is left to finish
                _, ms = timed(server, msg_id, sent)
                report.survivor_ms.append(ms)
                next_at = time.perf_counter()
            else:
                report.superseded += 1
            if progress and i % 200 == 199:
                progress(f"{i + 1}/{requests} requests, rss {server.rss_mb():.1f} MB")
        typist.type()
        markers[typist.version] = typist.mark()
        for msg_id, version in owed:
            reply, _ = timed(server, msg_id, 0)
            report.answered += 1
            items = (reply.get("result") or {}).get("items") or []
            report.offered += bool(items)
            marker = markers[version + 1]
            server.wait(marker)
            if items and server.arrivals.index(msg_id) > server.arrivals.index(marker):
                report.stale_results += 1
        for marker in markers.values():
            status = (server.wait(marker) or {}).get("result") or {}
            queue = status.get("queue", {})
            report.max_waiting = max(report.max_waiting, queue.get("waiting", 0))
            report.max_in_flight = max(report.max_in_flight, queue.get("inFlight", 0))
        report.rss_after_mb = round(server.rss_mb(), 1)
        report.counters = (server.status() or {}).get("counters", {})
    finally:
        server.stop()
    return report


def main(argv: list[str] | None = None) -> int:
    from benchmarks.latency.runner import machine_info

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second within a burst")
    parser.add_argument("--idle", type=int, default=40, help="requests for the idle baseline")
    parser.add_argument("--debounce-ms", type=int, nargs="+", default=[30, 0],
                        help="one run per value (30: the server's default; 0: every request reaches the engine)")
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    load = os.getloadavg()
    runs = {}
    for debounce in args.debounce_ms:
        settings = {"debounceMs": debounce, "steps": args.steps, "maxSpanTokens": 16}
        runs[f"debounce_{debounce}ms"] = {"settings": settings,
                                          **storm(args.requests, args.rate, args.idle, settings).as_dict()}
        print(json.dumps(runs[f"debounce_{debounce}ms"], indent=2))
    result = {"benchmark": "storm", "rate_per_s": args.rate, "burst": BURST, "runs": runs,
              "machine": machine_info(1, load)}
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(result, indent=2) + "\n")
    ok = all(r["stale_results"] == 0 and r["rss_mb"]["growth"] < 50 for r in runs.values())
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
