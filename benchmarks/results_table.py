"""Markdown table of HumanEval-Infilling reports: `python -m benchmarks.results_table R1.json ...`."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

COLUMNS = ("model", "completer", "split", "oracle", "K", "tasks", "pass@1", "pass@1 non-blank",
           "exact", "blank", "p50 ms", "p95 ms")


def row(report: dict) -> list[str]:
    def pct(key: str) -> str:
        value = report.get(key)
        return "–" if value is None else f"{100 * value:.1f}%"

    def ms(key: str) -> str:
        value = report.get(key)
        return "–" if value is None else f"{value:.0f}"

    # A shipped adapter is merged into ~/.cache/stipple/models/NAME-<16 hex digits of its hash>.
    model = re.sub(r"-[0-9a-f]{16}$", "", Path(str(report.get("model", "?"))).name)
    if report.get("guide"):  # left-to-right decoding mixed with a next-token model (engine/denoise/guide.py)
        model += f", guided by {report['guide']}"
    if report.get("dtype"):  # recorded since the CPU default became bf16 where the CPU has it
        model += f" ({report['dtype']})"
    return [model, report.get("completer", "diffusion"),
            str(report.get("split")), "yes" if report.get("oracle_length") else "no",
            str(report["steps"]) if report.get("completer", "diffusion") == "diffusion" and report.get("steps")
            else "–",
            str(report.get("n_tasks")), pct("pass_at_1"), pct("pass_at_1_nonblank"),
            pct("exact_match"), pct("blank_rate"), ms("p50_latency_ms"), ms("p95_latency_ms")]


def table(paths: list[Path]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for path in paths:
        lines.append("| " + " | ".join(row(json.loads(Path(path).read_text()))) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table([Path(p) for p in sys.argv[1:]]))
