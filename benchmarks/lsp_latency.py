"""End-to-end completion latency through the real `stipple serve`, measured by a plain LSP client.

Opens a few real code holes, checks each one's mode (single- or multi-line) with the server's own
context rules, warms up, then times textDocument/inlineCompletion round trips and writes p50/p95 with
machine info to benchmarks/results/. Usage:

    .venv/bin/python -m benchmarks.lsp_latency [--rounds 20] [--steps 16] [--threads 1] [--model DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from lsp_server.context import extract
from lsp_server.documents import Document
from lsp_server.languages import language_for

RESULTS = Path(__file__).resolve().parent / "results"
MARKER = "<|>"
HOLES = [  # (uri, languageId, text with a cursor marker)
    ("file:///bench/stats.py", "python", "def mean(values: list[float]) -> float:\n    total = 0.0\n"
     "    for value in values:\n        total += <|>\n    return total / len(values)\n"),
    ("file:///bench/area.js", "javascript", "function area(width, height) {\n  const result = <|>\n"
     "  return result;\n}\n"),
    ("file:///bench/area.go", "go", "package main\n\nfunc area(w, h int) int {\n\tr := <|>\n\treturn r\n}\n"),
    ("file:///bench/greet.py", "python", "import sys\n\n\ndef greet(name: str) -> str:<|>\n\n\n"
     "print(greet(sys.argv[1]))\n"),
    ("file:///bench/shape.rs", "rust", "struct Shape { w: f64, h: f64 }\n\nimpl Shape {\n"
     "    fn area(&self) -> f64 {<|>\n    }\n}\n"),
    ("file:///bench/loop.ts", "typescript", "export function total(xs: number[]): number {\n  let sum = 0;\n"
     "  <|>\n  return sum;\n}\n"),
]


def split_marker(text: str) -> tuple[str, types.Position, int]:
    before, after = text.split(MARKER)
    lines = before.split("\n")
    return before + after, types.Position(len(lines) - 1, len(lines[-1].encode("utf-16-le")) // 2), len(before)


def mode_of(uri: str, language_id: str, text: str, offset: int) -> str:
    return extract(Document(uri, language_id, 1, text, language=language_for(language_id)), offset).mode


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def wait_ready(client: LanguageClient) -> dict:
    while True:
        status = await client.workspace_execute_command_async(types.ExecuteCommandParams(command="stipple.status"))
        if status["ready"] or status["error"]:
            return status
        await asyncio.sleep(0.1)


async def run(args: argparse.Namespace) -> dict:
    client = LanguageClient("stipple-lsp-latency", "0.1")
    env = {**os.environ, "STIPPLE_THREADS": str(args.threads), "OMP_NUM_THREADS": str(args.threads)}
    await client.start_io(sys.executable, "-m", "lsp_server", "serve", "--log-level", "warning", env=env)
    options = {"steps": args.steps, "debounceMs": 0, **({"model": args.model} if args.model else {})}
    await client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities(),
                                                         initialization_options={"stipple": options}))
    client.initialized(types.InitializedParams())
    status = await wait_ready(client)
    if status["error"]:
        raise SystemExit(f"model failed to load: {status['error']}")
    samples: dict[str, list[float]] = {"single": [], "multi": []}
    holes = []
    for uri, language_id, marked in HOLES:
        text, position, offset = split_marker(marked)
        holes.append((uri, position, mode_of(uri, language_id, text, offset)))
        client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(
            uri=uri, language_id=language_id, version=1, text=text)))
    for round_number in range(args.warmup + args.rounds):
        for uri, position, mode in holes:
            started = time.perf_counter()
            await client.text_document_inline_completion_async(types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri), position=position,
                context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic)))
            if round_number >= args.warmup:
                samples[mode].append((time.perf_counter() - started) * 1000)
    status = await wait_ready(client)
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return {"samples": samples, "status": status}


def machine_info(threads: int) -> dict:
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "load_average": os.getloadavg(), "server_torch_threads": threads,
            "python": platform.python_version()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model", default=None)
    parser.add_argument("--output", type=Path, default=RESULTS / "lsp-latency.json")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    rows = {mode: {"n": len(v), "p50_ms": round(statistics.median(v), 1), "p95_ms": round(percentile(v, 0.95), 1),
                   "mean_ms": round(statistics.fmean(v), 1)} for mode, v in result["samples"].items() if v}
    report = {"benchmark": "lsp_latency", "model": result["status"]["model"], "steps": args.steps,
              "holes": [h[0] for h in HOLES], "latency": rows, "machine": machine_info(args.threads),
              "counters": result["status"]["counters"], "recorded": time.strftime("%Y-%m-%dT%H:%M:%S")}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'mode':<8}{'n':>5}{'p50 ms':>10}{'p95 ms':>10}{'mean ms':>10}")
    for mode, row in rows.items():
        print(f"{mode:<8}{row['n']:>5}{row['p50_ms']:>10}{row['p95_ms']:>10}{row['mean_ms']:>10}")
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
