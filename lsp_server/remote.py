"""RemoteBridge: completions from a `stipple deploy` deployment over HTTP (`backend = "remote"`).

The same interface as the in-process EngineBridge (lsp_server/bridge.py), so the server does not care
which it has. Each request is one POST /v1/completions (OpenAI-style, true infill) on a worker
thread; cancel-previous holds: a newer request for the document, or a cancelled await
($/cancelRequest), closes the request's socket, the deployment sees its client go and the replica
stops between denoising steps. A connection error or a 5xx (a replica that died mid-request, an
overloaded proxy) is retried once, on a new connection; a 4xx is the caller's mistake and is not.
$STIPPLE_API_TOKEN, when set, is sent as `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import math
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from engine.denoise.params import DenoiseParams  # torch-free
from lsp_server.bridge import Completion
from lsp_server.settings import Settings
from lsp_server.span import SpanPlan

log = logging.getLogger("stipple.remote")
CHARS_PER_TOKEN = 3.0  # the budget estimate without the remote tokenizer; the engine cuts by tokens anyway
PARAM_FIELDS = tuple(f.name for f in fields(DenoiseParams))


class RemoteError(Exception):
    """The deployment answered with an error, or could not be reached."""


@dataclass
class RemoteConfig:
    model_dir: str
    """What the server reports as its model: the deployment's URL and model id."""


@dataclass
class RemoteModel:
    """What the server reads off `bridge.engine` when the engine is remote."""

    config: RemoteConfig
    max_positions: int
    tokenizer: Any = None


class Call:
    """One HTTP request on a worker thread; abort() from any thread drops its connection."""

    def __init__(self, url: str, method: str, path: str, body: bytes | None, timeout_s: float) -> None:
        self.url, self.method, self.path, self.body, self.timeout_s = urlsplit(url), method, path, body, timeout_s
        self.aborted = False
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()

    def run(self) -> tuple[int, bytes]:
        cls = http.client.HTTPSConnection if self.url.scheme == "https" else http.client.HTTPConnection
        conn = cls(self.url.hostname or "127.0.0.1", self.url.port, timeout=self.timeout_s)
        with self._lock:
            if self.aborted:
                raise ConnectionAbortedError("superseded")
            self._conn = conn
        headers = {"Content-Type": "application/json"}
        if token := os.environ.get("STIPPLE_API_TOKEN"):
            headers["Authorization"] = f"Bearer {token}"
        try:
            conn.request(self.method, self.url.path.rstrip("/") + self.path, self.body, headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def abort(self) -> None:
        with self._lock:
            self.aborted = True
            sock = self._conn.sock if self._conn is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes the worker thread's recv; the server sees EOF
            except OSError:
                pass


def error_message(status: int, data: bytes) -> str:
    try:
        return f"{status}: {json.loads(data)['error']['message']}"
    except (ValueError, KeyError, TypeError):
        return f"{status}: {data[:200].decode(errors='replace')}"


class RemoteBridge:
    def __init__(self, retries: int = 1, timeout_s: float = 30.0, max_workers: int = 16) -> None:
        self.engine: RemoteModel | None = None
        self.error: str | None = None
        self.url = ""
        self.retries, self.timeout_s = retries, timeout_s
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="stipple-remote")
        self._in_flight: dict[str, Call] = {}
        self.retried = 0  # requests sent again after a 5xx or a dropped connection

    @property
    def ready(self) -> bool:
        return self.engine is not None

    async def load(self, settings: Settings) -> None:
        """Ask the deployment which model it serves (GET /v1/models); on failure keep why in .error."""
        self.engine, self.error, self.url = None, None, settings.remote_url
        try:
            status, data = await self._send(Call(self.url, "GET", "/v1/models", None, self.timeout_s))
            if status != 200:
                raise RemoteError(error_message(status, data))
            model = json.loads(data)["data"][0]
            self.engine = RemoteModel(RemoteConfig(f"{self.url} ({model['id']})"),
                                      int(model.get("stipple", {}).get("max_positions", 2048)))
        except (OSError, RemoteError, ValueError, KeyError, IndexError) as exc:
            self.error = f"cannot use the deployment at {self.url}: {exc}"
            log.error("%s", self.error)

    def count_tokens(self, text: str) -> int:
        return math.ceil(len(text) / CHARS_PER_TOKEN)

    def cancel(self, key: str) -> None:
        if (call := self._in_flight.pop(key, None)) is not None:
            call.abort()

    def forget(self, key: str) -> None:
        self.cancel(key)

    async def complete(self, key: str, plan: SpanPlan) -> Completion | None:
        """POST plan for document key; None when it was superseded or cancelled. Raises RemoteError."""
        self.cancel(key)
        ext = {name: getattr(plan, name) for name in PARAM_FIELDS if hasattr(plan, name)}
        body = json.dumps({"prompt": plan.prefix, "suffix": plan.suffix, "stipple": ext}).encode()
        began = time.perf_counter()
        for attempt in range(self.retries + 1):
            call = self._in_flight[key] = Call(self.url, "POST", "/v1/completions", body, self.timeout_s)
            try:
                status, data = await self._send(call)
            except asyncio.CancelledError:
                call.abort()
                raise
            except OSError as exc:
                if call.aborted:
                    return None
                problem = f"cannot reach {self.url}: {exc}"
            else:
                if call.aborted:
                    return None
                if status == 200:
                    return self._completion(json.loads(data), began)
                problem = error_message(status, data)
                if status < 500:
                    raise RemoteError(problem)
            finally:
                if self._in_flight.get(key) is call:
                    del self._in_flight[key]
            if attempt < self.retries:
                self.retried += 1
                log.warning("remote completion failed (%s); retrying", problem)
        raise RemoteError(problem)

    async def _send(self, call: Call) -> tuple[int, bytes]:
        return await asyncio.get_running_loop().run_in_executor(self._executor, call.run)

    @staticmethod
    def _completion(data: dict, began: float) -> Completion:
        ext = data.get("stipple", {})
        timings = dict(ext.get("timings_ms", {}))
        wall = (time.perf_counter() - began) * 1000
        return Completion(data["choices"][0]["text"], ext.get("request_id", data["id"]), ext.get("steps", 0),
                          timings, max(0.0, wall - sum(timings.values())), batch_size=ext.get("batch_size", 1),
                          ended_line=ext.get("ended_line", False))

    def shutdown(self) -> None:
        for key in list(self._in_flight):
            self.cancel(key)
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def run_job(self, key: str, work: Any) -> Any:
        raise RemoteError("this command needs the model in-process (backend = \"local\")")
