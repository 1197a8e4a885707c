"""lsp_server/remote.py against a scripted HTTP server: retry once on 5xx or a dropped connection, never
on 4xx, cancel-previous drops the connection, the bearer token goes along. (The real deployment:
tests/engine/serve/test_deploy.py.)"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lsp_server.remote import RemoteBridge, RemoteError
from lsp_server.settings import Settings
from lsp_server.span import SpanPlan

PLAN = SpanPlan("def f(x):\n    return ", "\n", "single", 16, 8)


class Script:
    def __init__(self, answers: list) -> None:
        self.answers = answers  # each: (status, body) or "slow"
        self.seen: list[dict] = []
        self.disconnected = threading.Event()


def serve(script: Script) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.answer(200, {"data": [{"id": "tiny", "stipple": {"max_positions": 512}}]})

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            script.seen.append({"body": body, "auth": self.headers.get("Authorization")})
            answer = script.answers.pop(0) if script.answers else (200, None)
            if answer == "slow":  # wait for the client to hang up
                self.connection.settimeout(5)
                if self.connection.recv(1) == b"":
                    script.disconnected.set()
                return
            status, payload = answer
            self.answer(status, payload or {"id": "cmpl-1", "choices": [{"text": "x + 1"}],
                                            "stipple": {"request_id": "r9", "steps": 8, "timings_ms": {"prefill": 1.0}}})

        def answer(self, status, payload):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


async def loaded(script: Script) -> tuple[RemoteBridge, ThreadingHTTPServer]:
    server = serve(script)
    bridge = RemoteBridge()
    settings, _ = Settings().updated({"backend": "remote", "remoteUrl": f"http://127.0.0.1:{server.server_port}"})
    await bridge.load(settings)
    assert bridge.ready and bridge.engine.max_positions == 512, bridge.error
    return bridge, server


def test_completion_and_request_body(monkeypatch):
    monkeypatch.setenv("STIPPLE_API_TOKEN", "s3cret")
    script = Script([])

    async def main():
        bridge, server = await loaded(script)
        result = await bridge.complete("file:///a.py", PLAN)
        server.shutdown()
        return result

    result = asyncio.run(main())
    assert (result.text, result.request_id, result.steps_done) == ("x + 1", "r9", 8)
    sent = script.seen[0]
    assert sent["auth"] == "Bearer s3cret"
    assert sent["body"]["prompt"] == PLAN.prefix and sent["body"]["suffix"] == "\n"
    assert sent["body"]["stipple"] == {"steps": 8, "strategy": "confidence", "mode": "single", "span_tokens": 16,
                                       "reuse_context": True, "heal_cursor": True, "threshold": 0.9,
                                       "block_length": None}


@pytest.mark.parametrize("answers, retried, ok", [
    ([(500, {"error": {"message": "replica died"}})], 1, True),
    ([(503, {}), (502, {})], 1, False),
    ([(400, {"error": {"message": "bad steps"}})], 0, False),
    ([(401, {"error": {"message": "token"}})], 0, False),
])
def test_retries_once_on_server_errors_only(answers, retried, ok):
    script = Script(list(answers))

    async def main():
        bridge, server = await loaded(script)
        try:
            return bridge, await bridge.complete("file:///a.py", PLAN)
        except RemoteError as exc:
            return bridge, exc
        finally:
            server.shutdown()

    bridge, result = asyncio.run(main())
    assert bridge.retried == retried
    assert (not isinstance(result, RemoteError)) == ok, result
    assert len(script.seen) == 1 + retried


def test_a_newer_request_drops_the_older_connection():
    script = Script(["slow"])

    async def main():
        bridge, server = await loaded(script)
        first = asyncio.ensure_future(bridge.complete("file:///a.py", PLAN))
        while not script.seen:
            await asyncio.sleep(0.01)
        started = time.perf_counter()
        second = await bridge.complete("file:///a.py", PLAN)  # cancel-previous
        older = await first
        server.shutdown()
        return older, second, time.perf_counter() - started

    older, second, took = asyncio.run(main())
    assert older is None and second.text == "x + 1"
    assert script.disconnected.wait(5)  # the deployment sees its client go
    assert took < 3


def test_an_unreachable_deployment_is_an_error_not_a_crash():
    async def main():
        bridge = RemoteBridge()
        settings, _ = Settings().updated({"backend": "remote", "remoteUrl": "http://127.0.0.1:9"})
        await bridge.load(settings)
        return bridge

    bridge = asyncio.run(main())
    assert not bridge.ready and "cannot use the deployment" in bridge.error


def test_settings_validate_backend_and_url():
    _, problems = Settings().updated({"backend": "cloud", "remoteUrl": "ftp://x"})
    assert len(problems) == 2
    new, problems = Settings().updated({"backend": "remote", "remote_url": "https://team.example:8443"})
    assert not problems and new.needs_reload(Settings())
