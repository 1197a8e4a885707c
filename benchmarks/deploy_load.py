"""Load and fault test of `stipple deploy` (issue 20): simulated editors against the deployment and
against one in-process engine.

    nice -n 19 .venv/bin/python -m benchmarks.deploy_load [--editors 50] [--duration 30] [--replicas 2]
        [--model stipple-tiny] [--out benchmarks/results/deploy]

Each editor loops for --duration seconds: a real single-line cursor (a line of a stdlib module cut in
the middle, 40 lines before, 10 after), one request, the answer, a think time of 0.2-1.0 s. Targets:
- inprocess: one engine in this process behind the replica's own worker (engine/serve/worker.py: the
  scheduler batching and one worker thread, what one `stipple serve` runs), --inprocess-threads torch
  threads (1, as each replica), no HTTP;
- deploy: `stipple deploy --replicas N --threads 1` on loopback, POST /v1/completions over HTTP;
- deploy-fault: the same deployment, one replica SIGKILLed halfway. An editor whose request fails
  (5xx or dropped connection) retries it once, as the remote backend does; a request lost is one that
  failed twice. A simple asyncio HTTP client, not the LSP latency harness (it drives one editor at a
  time). Writes one JSON per target with the machine's facts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from importlib import metadata
from pathlib import Path

STDLIB = Path(sysconfig.get_paths()["stdlib"])
SOURCES = ("json/encoder.py", "argparse.py", "textwrap.py", "dataclasses.py", "pathlib.py", "shutil.py")


def holes(count: int, seed: int = 0) -> list[tuple[str, str]]:
    """Cursors in the middle of non-blank code lines: (prefix, suffix)."""
    rng, out = random.Random(seed), []
    texts = [(STDLIB / name).read_text(encoding="utf-8") for name in SOURCES if (STDLIB / name).exists()]
    while len(out) < count:
        lines = rng.choice(texts).split("\n")
        i = rng.randrange(40, len(lines) - 10)
        line = lines[i]
        if len(line.strip()) < 12 or line.strip().startswith("#"):
            continue
        cut = len(line) - len(line.lstrip()) + len(line.strip()) // 2
        out.append(("\n".join(lines[i - 40 : i] + [line[:cut]]), line[cut:] + "\n" + "\n".join(lines[i + 1 : i + 11])))
    return out


def request_body(prefix: str, suffix: str, steps: int, span: int) -> dict:
    return {"prompt": prefix, "suffix": suffix, "max_tokens": span, "stipple": {"steps": steps, "mode": "single"}}


async def http(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    """One HTTP/1.1 exchange on a fresh connection (Connection: close); status 0 when it broke."""
    data = json.dumps(body).encode() if body is not None else b""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data)
        await writer.drain()
        raw = await reader.read()
        writer.close()
        head, _, payload = raw.partition(b"\r\n\r\n")
        status = int(head.split()[1])
        try:
            return status, json.loads(payload)
        except ValueError:
            return status, {"raw": payload[:200].decode(errors="replace")}
    except (OSError, IndexError, ValueError) as exc:
        return 0, {"error": repr(exc)}


class Load:
    def __init__(self, editors: int, duration: float, steps: int, span: int, seed: int) -> None:
        self.editors, self.duration, self.steps, self.span = editors, duration, steps, span
        self.holes = holes(200, seed)
        self.samples: list[dict] = []
        self.in_flight = 0

    async def run(self, send, fault=None) -> dict:
        """send(prefix, suffix) -> (ok, detail); fault: a coroutine started with the load."""
        started = time.perf_counter()
        end = started + self.duration

        async def editor(number: int) -> None:
            rng = random.Random(number)
            await asyncio.sleep(rng.uniform(0, 1.0))
            while time.perf_counter() < end:
                prefix, suffix = rng.choice(self.holes)
                began = time.perf_counter()
                self.in_flight += 1
                ok, detail = await send(prefix, suffix)
                attempts, first_error = 1, detail.get("error")
                if not ok and detail.get("retry"):  # the remote backend's policy: once more
                    ok, detail = await send(prefix, suffix)
                    attempts = 2
                self.in_flight -= 1
                self.samples.append({"editor": number, "t": round(began - started, 3), "attempts": attempts,
                                     "ok": ok, "latency_ms": round((time.perf_counter() - began) * 1000, 1),
                                     "batch_size": detail.get("batch_size"), "error": detail.get("error"),
                                     "first_error": first_error})
                await asyncio.sleep(rng.uniform(0.2, 1.0))

        tasks = [editor(i) for i in range(self.editors)]
        extra = [fault(self)] if fault else []
        results = await asyncio.gather(*tasks, *extra)
        return {"wall_s": round(time.perf_counter() - started, 2), "fault": results[-1] if fault else None}

    def summary(self, wall_s: float) -> dict:
        ok = sorted(s["latency_ms"] for s in self.samples if s["ok"])
        batches = [s["batch_size"] for s in self.samples if s["ok"] and s["batch_size"]]

        def pct(p: float) -> float | None:
            return ok[min(len(ok) - 1, int(p * len(ok)))] if ok else None

        return {"requests": len(self.samples), "ok": len(ok), "lost": len(self.samples) - len(ok),
                "retried": sum(s["attempts"] > 1 for s in self.samples),
                "retried_ok": sum(s["attempts"] > 1 and s["ok"] for s in self.samples),
                "p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99),
                "throughput_rps": round(len(ok) / wall_s, 2),
                "mean_batch_size": round(sum(batches) / len(batches), 2) if batches else None}


def machine(threads: int | None) -> dict:
    import torch

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    try:
        ray_version = metadata.version("ray")
    except metadata.PackageNotFoundError:
        ray_version = None
    return {"platform": platform.platform(), "cpu": cpu, "cpus": os.cpu_count(), "loadavg": os.getloadavg(),
            "python": platform.python_version(), "torch": torch.__version__, "ray": ray_version,
            "torch_threads_inprocess": threads, "note": "shared 2-core machine; a training job ran alongside"}


async def inprocess(args, load: Load) -> dict:
    from engine.ar.twin import build_engine
    from engine.denoise.config import EngineConfig
    from engine.denoise.params import DenoiseParams
    from engine.denoise.request import SpanRequest
    from engine.serve.worker import EngineWorker

    engine = build_engine(EngineConfig(model_dir=args.model, device="cpu", num_threads=args.inprocess_threads))
    worker = EngineWorker(engine, args.max_batch)

    async def send(prefix: str, suffix: str):
        span = SpanRequest(prefix, suffix, DenoiseParams(steps=args.steps, span_tokens=args.span, mode="single"))
        result = await worker.run(span)
        return result is not None, {"batch_size": result[1] if result else None}

    await send(*load.holes[0])  # warm-up
    return await load.run(send)


def start_deploy(args, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "engine", "deploy", "--port", str(port), "--replicas",
                             str(args.replicas), "--threads", "1", "--model", args.model, "--max-batch",
                             str(args.max_batch)], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
    while True:
        line = proc.stderr.readline()
        if not line:
            raise SystemExit("stipple deploy exited before it was ready")
        if "Ctrl-C stops" in line:
            return proc


def http_send(args, port: int):
    async def send(prefix: str, suffix: str):
        status, data = await http(port, "POST", "/v1/completions", request_body(prefix, suffix, args.steps, args.span))
        if status == 200:
            return True, {"batch_size": data.get("stipple", {}).get("batch_size")}
        return False, {"retry": status == 0 or status >= 500, "error": f"{status}: {str(data)[:160]}"}
    return send


async def replica_pids(port: int) -> set[int]:
    pids = set()
    for _ in range(30):
        status, data = await http(port, "GET", "/v1/stipple/stats")
        if status == 200:
            pids.add(data["pid"])
    return pids


def killer(port: int, at_s: float):
    async def fault(load: Load) -> dict:
        pids = await replica_pids(port)
        await asyncio.sleep(at_s)
        victim = min(pids)
        in_flight = load.in_flight
        os.kill(victim, signal.SIGKILL)
        killed_at = time.perf_counter()
        await asyncio.sleep(load.duration - at_s)
        return {"replicas_seen": sorted(pids), "killed_pid": victim, "killed_at_s": at_s,
                "in_flight_at_kill_all_replicas": in_flight, "replicas_after": sorted(await replica_pids(port)),
                "observed_s": round(time.perf_counter() - killed_at, 1)}
    return fault


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write(out: Path, name: str, args, load: Load, run: dict, extra: dict) -> dict:
    summary = load.summary(run["wall_s"])
    report = {"target": name, "config": {k: str(v) for k, v in vars(args).items()}, "machine": machine(
        args.inprocess_threads if name.startswith("inprocess") else 1), "summary": summary, "run": run, **extra,
        "samples": load.samples}
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(report, indent=1) + "\n")
    print(f"{name:>13}: {summary}", flush=True)
    return summary


async def main(args) -> None:
    if "inprocess" in args.targets:
        load = Load(args.editors, args.duration, args.steps, args.span, args.seed)
        name = "inprocess" if args.inprocess_threads == 1 else f"inprocess-{args.inprocess_threads}threads"
        write(args.out, name, args, load, await inprocess(args, load), {})
    if not {"deploy", "deploy-fault"} & set(args.targets):
        return
    port = free_port()
    began = time.perf_counter()
    proc = start_deploy(args, port)
    startup_s = round(time.perf_counter() - began, 1)
    try:
        send = http_send(args, port)
        await send(*holes(1)[0])  # warm-up
        if "deploy" in args.targets:
            load = Load(args.editors, args.duration, args.steps, args.span, args.seed)
            write(args.out, "deploy", args, load, await load.run(send), {"startup_s": startup_s})
        if "deploy-fault" in args.targets:
            load = Load(args.editors, args.duration, args.steps, args.span, args.seed)
            run = await load.run(send, killer(port, args.duration / 2))
            errors = sorted({s["first_error"][:120] for s in load.samples if s["first_error"]})
            write(args.out, "deploy-fault", args, load, run, {"first_attempt_errors": errors})
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--editors", type=int, default=50)
    p.add_argument("--duration", type=float, default=30.0)
    p.add_argument("--replicas", type=int, default=2)
    p.add_argument("--model", default="stipple-tiny")
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--span", type=int, default=16)
    p.add_argument("--max-batch", type=int, default=8)
    p.add_argument("--inprocess-threads", type=int, default=1, help="torch threads of the in-process engine")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--targets", nargs="+", default=["inprocess", "deploy", "deploy-fault"])
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/deploy"))
    asyncio.run(main(p.parse_args()))
