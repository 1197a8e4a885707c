"""The latency harness against the real `stipple serve` on a tiny workload: the report's structure and
sanity (never speed), --compare ratios, the plots, and record -> replay."""

from __future__ import annotations

import json
import random

import pytest

from benchmarks.cli import build_parser
from benchmarks.cli_bench import write_outputs
from benchmarks.latency import report, workloads
from benchmarks.latency.client import SPANS_METHOD
from benchmarks.latency.runner import BenchConfig, RunOptions, run_sync
from benchmarks.latency.trace import read_trace, replay_sync

FAST = {"steps": 3, "maxSpanTokens": 16, "debounceMs": 0}
TASKS = "snippets,humaneval:single:1"


@pytest.fixture(scope="module")
def compared(tmp_path_factory) -> tuple[dict, dict, object]:
    out = tmp_path_factory.mktemp("bench")
    options = RunOptions(tasks=TASKS, rounds=1, warmup=1, chars_per_s=40, typed=2, out=out,
                         record=out / "trace.msgpack")
    result = run_sync([BenchConfig("k3", FAST), BenchConfig("k2", {**FAST, "steps": 2})], options)
    summary = write_outputs(result, out, "latency")
    return result, summary, out


def test_report_structure_and_sanity(compared):
    result, summary, out = compared
    holes = workloads.build(TASKS, typed=2)
    assert result["options"]["holes"] == [h.source for h in holes]
    assert {c["name"] for c in result["configs"]} == {"k3", "k2"}
    for sample in result["samples"]:
        assert sample["latency_ms"] > 0 and sample["outcome"] != "unknown"  # every request got its spans
        if sample["outcome"] in ("offered", "empty"):
            assert sample["steps_done"] == len(sample["steps_ms"]) >= 1
            if not sample["client_cancelled"]:  # a cancelled one is answered before its handler ends
                assert sample["server_ms"] <= sample["latency_ms"] + 1
            assert sample["steps_done"] <= {"k3": 3, "k2": 2}[sample["config"]]
    finals = [s for s in result["samples"] if s["final"]]
    assert len(finals) == 2 * len(holes)  # one final request per hole and config
    for name, figures in summary["configs"].items():
        assert figures["latency"]["all"]["n"] >= 1
        row = figures["latency"]["all"]
        assert row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"]
        assert set(figures["latency"]) - {"all"} <= {"single", "multi", "typed_through"}
        assert {"python", "javascript", "go", "rust"} <= set(figures["by_language"])
        for stages in figures["stages_ms"].values():
            assert set(report.STAGES) <= set(stages) and stages["prefill"] > 0 and stages["tokenize"] > 0
        assert figures["counts"]["requests"] == len([s for s in result["samples"] if s["config"] == name])
        assert figures["tokens_per_s"] > 0 and figures["peak_rss_mb"] > 50
    assert "all" in summary["ratios_vs_first"]["k2"]
    saved = json.loads((out / "latency.json").read_text())
    assert saved["machine"]["cpu_count"] and saved["summary"]["baseline"] == "k3"
    for suffix in ("cdf", "stages", "scatter"):
        assert (out / f"latency-{suffix}.png").read_bytes()[:4] == b"\x89PNG"


def test_record_then_replay(compared):
    _, _, out = compared
    header, events = read_trace(out / "trace.msgpack")
    assert header["stippleTrace"] == 1
    methods = [e["msg"].get("method") for e in events if e["dir"] == "in"]
    assert methods[0] == "initialize" and "textDocument/didChange" in methods
    assert any(e["dir"] == "out" and e["msg"].get("method") == "stipple/spans" for e in events)
    replayed = replay_sync(out / "trace.msgpack")  # faster would close documents under their requests
    summary = report.summarize(replayed)
    sent = methods.count("textDocument/inlineCompletion")
    assert len(replayed["samples"]) == sent and summary["configs"]["replay"]["latency"]["all"]["n"] >= 1


def test_cut_at_line_removes_the_rest_of_the_line():
    text = "def f(x):\n    y = compute(x, 2)\n    return y\n"
    cut, offset = workloads.cut_at_line(text, 1, random.Random(0))
    assert cut[:offset].endswith(("(", ",", " ")) and cut[offset] == "\n"
    cut, offset = workloads.cut_at_line(text, 0, random.Random(0))  # a block header: its body goes
    assert cut[:offset] == "def f(x):" and "compute" not in cut


def test_cli_parses_bench_commands():
    args = build_parser().parse_args(["bench", "latency", "--compare", "--rounds", "1", "--config", "a.toml"])
    assert args.compare and args.rounds == 1 and args.func.__name__ == "cmd_latency"
    assert build_parser().parse_args(["bench", "replay", "t.msgpack"]).func.__name__ == "cmd_replay"


def test_the_client_listens_for_the_method_the_server_sends():
    """The client names `stipple/spans` as an editor would, without importing the server; the two agree."""
    from lsp_server.spans import METHOD

    assert SPANS_METHOD == METHOD
