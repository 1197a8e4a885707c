"""A latency run: one server per configuration, the same holes sent to each in turn (interleaved
request by request, so a noisy machine slows every configuration alike), samples and machine facts out.
"""

from __future__ import annotations

import asyncio
import os
import platform
import subprocess
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from benchmarks.latency import workloads
from benchmarks.latency.client import BenchClient
from benchmarks.latency.session import Sample, run_hole


@dataclass
class BenchConfig:
    """One server configuration: a name and the settings sent as initializationOptions."""

    name: str
    settings: dict = field(default_factory=dict)

    @classmethod
    def from_toml(cls, path: Path) -> BenchConfig:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        data = data.get("stipple", data) if isinstance(data.get("stipple"), dict) else data
        name = str(data.pop("name", Path(path).stem))
        return cls(name, data)


@dataclass
class RunOptions:
    tasks: str = workloads.DEFAULT_SPEC
    rounds: int = 2
    warmup: int = 1
    """Holes sent to each server before measuring (model warm-up, allocator, caches)."""
    chars_per_s: float = 8.0
    """Typing speed (8 characters per second is a steady typist)."""
    typed: int = 3
    """Characters typed before each cursor (each keystroke sends a request)."""
    editor: str = "vscode"
    threads: int = 1
    seed: int = 0
    out: Path = Path("benchmarks/results")
    record: Path | None = None
    """Record the first server's session to this msgpack trace."""


async def run(configs: list[BenchConfig], options: RunOptions, progress=None) -> dict:
    holes = workloads.build(options.tasks, options.typed, options.seed)
    options.out.mkdir(parents=True, exist_ok=True)
    clients = [BenchClient(c.name, {"threads": options.threads, **c.settings}, options.editor, options.threads,
                           Path(tempfile.gettempdir()) / f"stipple-bench-{os.getpid()}-{c.name}.log",
                           options.record if i == 0 else None)
               for i, c in enumerate(configs)]
    started, load_before = time.time(), os.getloadavg()
    samples: list[Sample] = []
    finals: list[dict] = []
    try:
        for client in clients:
            await client.start()
        for client in clients:  # warm-up, not kept
            for hole in holes[: options.warmup]:
                await run_hole(client, hole, -1, options.chars_per_s)
        total = options.rounds * len(holes) * len(clients)
        for round_number in range(options.rounds):
            for hole in holes:
                for client in clients:
                    samples += await run_hole(client, hole, round_number, options.chars_per_s)
                    if progress:
                        progress(len(samples), total)
    finally:
        for client in clients:
            try:
                finals.append(await client.stop())
            except Exception as exc:  # a dead server still leaves its samples
                finals.append({"error": str(exc)})
    return {
        "benchmark": "stipple bench latency", "format": 1,
        "recorded": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "duration_s": round(time.time() - started, 1),
        "machine": machine_info(options.threads, load_before),
        "options": {"tasks": options.tasks, "rounds": options.rounds, "warmup": options.warmup,
                    "chars_per_s": options.chars_per_s, "typed": options.typed, "editor": options.editor,
                    "seed": options.seed, "holes": [h.source for h in holes]},
        "configs": [{"name": c.name, "settings": c.settings, "server": final}
                    for c, final in zip(configs, finals)],
        "samples": [s.as_dict() for s in samples],
    }


def machine_info(threads: int, load_before: tuple[float, ...]) -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = None
    try:
        gpu = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    versions = {}
    for package in ("torch", "pygls", "stipple"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {"platform": platform.platform(), "cpu": cpu, "cpu_count": os.cpu_count(), "gpu": gpu,
            "server_threads": threads, "python": platform.python_version(), "versions": versions,
            "git_commit": commit, "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()]}


def run_sync(configs: list[BenchConfig], options: RunOptions, progress=None) -> dict:
    return asyncio.run(run(configs, options, progress))
