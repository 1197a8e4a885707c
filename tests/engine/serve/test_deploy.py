"""`stipple deploy` on a real local Ray cluster: two CPU replicas of the tiny model on loopback, the
token, the API, the remote backend's cancel-previous reaching a replica, and a clean SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("ray.serve")
pytestmark = [pytest.mark.ray, pytest.mark.timeout(240)]

TOKEN = "test-token"
READY = "Ctrl-C stops"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def deployment():
    port = free_port()
    env = {**os.environ, "STIPPLE_API_TOKEN": TOKEN, "RAY_USAGE_STATS_ENABLED": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "engine", "deploy", "--port", str(port), "--replicas", "2",
                             "--max-span-tokens", "200"], env=env, stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            break
        lines.append(line)
        if READY in line:
            break
    else:
        proc.kill()
    assert READY in "".join(lines), "".join(lines[-30:])
    os.set_blocking(proc.stderr.fileno(), False)  # keep reading nothing; Ray's logs go to its files
    yield f"http://127.0.0.1:{port}", proc
    if proc.poll() is None:  # a test failed before the SIGTERM test: stop it all the same
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def call(url: str, path: str, body: dict | bytes | None = None, token: str | None = TOKEN) -> tuple[int, bytes]:
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method="POST" if data is not None else "GET")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_token_is_required(deployment):
    url, _ = deployment
    assert call(url, "/v1/models", token=None)[0] == 401
    assert call(url, "/v1/completions", {"prompt": "x = "}, token="wrong")[0] == 401
    status, data = call(url, "/v1/models")
    assert status == 200 and json.loads(data)["data"][0]["id"] == "stipple-tiny"


def test_completion_stream_and_limits(deployment):
    url, _ = deployment
    status, data = call(url, "/v1/completions", {"prompt": "import os\n", "suffix": "\n", "max_tokens": 16,
                                                 "stipple": {"steps": 8, "mode": "multi"}})
    done = json.loads(data)
    assert status == 200 and done["object"] == "text_completion" and done["stipple"]["steps"] <= 8
    assert done["choices"][0]["finish_reason"] in ("stop", "length") and done["usage"]["prompt_tokens"] > 0
    status, data = call(url, "/v1/completions", {"prompt": "import os\n", "suffix": "\n", "max_tokens": 16,
                                                 "stream": True, "stipple": {"steps": 8, "mode": "multi"}})
    events = [line[len("data: "):] for line in data.decode().split("\n\n") if line]
    assert status == 200 and events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[-1]["choices"][0]["finish_reason"] is not None
    streamed = "".join(c["choices"][0]["text"] for c in chunks)
    assert chunks[-1]["stipple"]["replace"] or streamed == done["choices"][0]["text"]  # same greedy answer
    status, data = call(url, "/v1/completions", b'{"prompt": "' + b"a" * 300_000 + b'"}')
    assert status == 413 and b"over the limit" in data
    assert call(url, "/v1/completions", {"prompt": "x", "stipple": {"steps": 0}})[0] == 400


def test_remote_backend_cancel_previous_stops_the_replica(deployment, monkeypatch):
    from lsp_server.remote import RemoteBridge
    from lsp_server.settings import Settings
    from lsp_server.span import SpanPlan

    url, _ = deployment

    def cancelled() -> int:  # both replicas' counters (the proxy picks one per request)
        seen = {}
        for _ in range(20):
            stats = json.loads(call(url, "/v1/stipple/stats")[1])
            seen[stats["replica"]] = stats["cancelled"]
        return sum(seen.values())

    async def main():
        bridge = RemoteBridge()
        await bridge.load(Settings().updated({"backend": "remote", "remoteUrl": url})[0])
        assert bridge.ready, bridge.error
        long = SpanPlan("x = ", "", "multi", 200, 200)  # seconds of denoising on the tiny model
        first = asyncio.ensure_future(bridge.complete("file:///a.py", long))
        await asyncio.sleep(1.0)
        second = await bridge.complete("file:///a.py", SpanPlan("y = ", "\n", "single", 8, 4))
        return await first, second

    monkeypatch.setenv("STIPPLE_API_TOKEN", TOKEN)  # the remote backend sends it
    before = cancelled()
    older, newer = asyncio.run(main())
    assert older is None and newer is not None and newer.steps_done <= 4
    deadline = time.monotonic() + 20
    while cancelled() == before and time.monotonic() < deadline:
        time.sleep(0.5)
    assert cancelled() > before  # the superseded request stopped between steps on its replica


def test_sigterm_leaves_no_ray_process(deployment):
    _, proc = deployment
    spawned = descendants(proc.pid)
    assert len(spawned) >= 3  # Ray's own processes (gcs, raylet, workers) at least
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    deadline = time.monotonic() + 20
    while any(alive(pid) for pid in spawned) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not [pid for pid in spawned if alive(pid)]
