"""Server part: end-to-end latency of the real server (`stipple serve`, driven as an editor would by
the latency harness, benchmarks/latency) with the default model on the device."""

from __future__ import annotations

from pathlib import Path

TASKS = "files:lsp_server/*.py:6,snippets"  # needs no benchmark data on the GPU machine


def run(device: str, out: Path, rounds: int) -> dict:
    # Imported here: the harness needs pygls, which the GPU image lacks unless staged (README).
    from benchmarks.latency import report
    from benchmarks.latency.runner import BenchConfig, RunOptions, run_sync

    options = RunOptions(tasks=TASKS, rounds=rounds, warmup=2, threads=4, out=out)
    result = run_sync([BenchConfig(f"default-{device}", {"device": device})], options)
    summary = report.summarize(result)
    figures = summary["configs"][f"default-{device}"]
    return {"device": device, "tasks": TASKS, "rounds": rounds, "latency": figures["latency"],
            "step_ms": figures["step_ms"], "stages_ms": figures["stages_ms"], "counts": figures["counts"],
            "machine": result["machine"]}
