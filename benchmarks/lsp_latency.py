"""Superseded by the latency harness (benchmarks/latency, `stipple bench latency`); kept so that the old
command still works. Its six holes are the harness's `snippets` workload. Usage:

    .venv/bin/python -m benchmarks.lsp_latency [--rounds N] [any `stipple bench latency` option]
"""

from __future__ import annotations

import sys

from benchmarks.cli import main as stipple

if __name__ == "__main__":
    sys.exit(stipple(["bench", "latency", "--tasks", "snippets", "--name", "lsp-latency-snippets", *sys.argv[1:]]))
