"""Replay of a msgpack trace written by `stipple serve --record` (lsp_server/recorder.py).

The client's messages ("in" in the trace) are sent again with their recorded spacing, under their
recorded ids; the server's requests are answered by the BenchClient as an editor would. The model is
awaited after `initialized`, and the recorded clock resumes at the moment the recorded server reported
its model loaded (the end of its work-done progress), so neither load is waited twice and the typing
keeps its distance from the model becoming ready; messages recorded during the load are sent at once.
Every inline completion request becomes a Sample, so a replay reports the same figures as a run.
How late each message left against its recorded time is reported too ("timing"): a replay whose
client fell behind its schedule would measure a different session. `until` replays only the first
seconds of a trace (the session is then shut down as if the editor had quit).
"""

from __future__ import annotations

import asyncio
import os
import time
from concurrent.futures import Future
from pathlib import Path

import msgpack

from benchmarks.latency.client import BenchClient
from benchmarks.latency.runner import machine_info
from benchmarks.latency.session import Sample

COMPLETION_METHODS = ("textDocument/inlineCompletion", "textDocument/completion")
SKIPPED = ("shutdown", "exit")  # the harness ends the session itself


def recorded_ready(events: list[dict]) -> float | None:
    """When the recorded server ended its first work-done progress (the model load), if it did."""
    for event in events:
        msg = event["msg"]
        if event.get("dir") == "out" and msg.get("method") == "$/progress" \
                and ((msg.get("params") or {}).get("value") or {}).get("kind") == "end":
            return event["t"]
    return None


def read_trace(path: Path) -> tuple[dict, list[dict]]:
    """The header and the timed messages of a trace."""
    with open(path, "rb") as f:
        items = list(msgpack.Unpacker(f, raw=False))
    if not items or not isinstance(items[0], dict) or "stippleTrace" not in items[0]:
        raise ValueError(f"{path} is not a stipple trace (no header)")
    return items[0], items[1:]


async def replay(path: Path, editor: str = "vscode", threads: int = 1, model: Path | None = None,
                 speed: float = 1.0, until: float | None = None) -> dict:
    if speed <= 0:
        raise ValueError(f"speed must be > 0, got {speed}")
    header, events = read_trace(path)
    incoming = [e for e in events if e.get("dir") == "in" and "method" in e["msg"] and e["msg"]["method"] not in SKIPPED
                and (until is None or e["t"] <= until)]
    client = BenchClient("replay", {}, editor, threads)
    await client.launch()
    started, load_before = time.time(), os.getloadavg()
    languages: dict[str, str] = {}
    sent: dict = {}  # id -> (method, uri, time sent, Future)
    cancelled: set = set()
    late_ms: list[float] = []  # per message scheduled after the model load: sent minus scheduled
    ready_at = recorded_ready(events)
    offset = 0.0  # time spent waiting for the model, added to the recorded clock
    clock = time.perf_counter()
    for event in incoming:
        msg = dict(event["msg"])
        method, params = msg["method"], msg.get("params") or {}
        scheduled = clock + offset + event["t"] / speed
        if scheduled > time.perf_counter():
            await asyncio.sleep(scheduled - time.perf_counter())
        if ready_at is None or event["t"] >= ready_at:
            late_ms.append((time.perf_counter() - scheduled) * 1000)
        if method == "initialize" and model is not None:
            options = params.setdefault("initializationOptions", {}) or {}
            options.setdefault("stipple", {})["model"] = str(model)
            params["initializationOptions"] = options
        if method == "textDocument/didOpen":
            languages[params["textDocument"]["uri"]] = params["textDocument"]["languageId"]
        if method == "$/cancelRequest":
            cancelled.add(params.get("id"))
        if "id" in msg:
            future: Future = Future()
            future.add_done_callback(lambda _, i=msg["id"]: client.answered.setdefault(i, time.perf_counter()))
            client.lsp.protocol._request_futures[msg["id"]] = future
            uri = (params.get("textDocument") or {}).get("uri", "")
            sent[msg["id"]] = (method, uri, time.perf_counter(), future)  # before sending, as the client does
        client.lsp.protocol._send_data(msg)
        if method == "initialize":  # the recording's clock began in a server that had already started
            waited = time.perf_counter()
            result = await asyncio.wait_for(asyncio.wrap_future(future), 60)
            offset += time.perf_counter() - waited
            client.encoding = str(getattr(getattr(result, "capabilities", None), "positionEncoding", "utf-16"))
        if method == "initialized":
            waited = time.perf_counter()
            await client.wait_ready()
            if ready_at is not None and ready_at > event["t"]:
                offset = time.perf_counter() - clock - ready_at / speed
            else:
                offset += time.perf_counter() - waited
    samples = []
    for msg_id, (method, uri, at, future) in sent.items():
        if method not in COMPLETION_METHODS:
            continue
        try:
            await asyncio.wait_for(asyncio.wrap_future(future), 300)
        except asyncio.TimeoutError:
            raise
        except Exception:
            pass
        spans = client.spans.pop(msg_id, {})
        done = client.answered.get(msg_id, time.perf_counter())
        samples.append(Sample("replay", uri, languages.get(uri, "unknown"), 0, 0, msg_id not in cancelled,
                              round((done - at) * 1000, 3), msg_id in cancelled, spans.get("outcome", "unknown"),
                              spans.get("mode"), spans.get("reason", ""), 0, 0, spans.get("stages", {}),
                              spans.get("stepsMs", []), spans.get("totalMs", 0.0), spans.get("spanTokens", 0),
                              spans.get("steps", 0), spans.get("stepsDone", 0), spans.get("generatedTokens", 0)))
    final = await client.stop()
    return {"benchmark": "stipple bench replay", "format": 1, "trace": str(path), "trace_header": header,
            "recorded": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
            "duration_s": round(time.time() - started, 1), "machine": machine_info(threads, load_before),
            "options": {"editor": editor, "speed": speed, "model": str(model) if model else None, "until": until},
            "timing": timing(late_ms, incoming),
            "configs": [{"name": "replay", "settings": {}, "server": final}],
            "samples": [s.as_dict() for s in samples]}


def timing(late_ms: list[float], incoming: list[dict]) -> dict:
    """How faithfully the recorded schedule was kept: lateness of each send timed, and the span replayed."""
    ordered = sorted(late_ms)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3) if ordered else 0.0

    return {"messages": len(incoming), "timed": len(late_ms), "late_ms_p50": pick(0.5), "late_ms_p95": pick(0.95),
            "late_ms_max": round(ordered[-1], 3) if ordered else 0.0,
            "recorded_span_s": round(incoming[-1]["t"] - incoming[0]["t"], 3) if incoming else 0.0}


def replay_sync(path: Path, **kwargs) -> dict:
    return asyncio.run(replay(Path(path), **kwargs))
