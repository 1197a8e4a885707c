"""WireServer: a real `stipple serve` on stdio, driven with raw Content-Length framed bytes.

No LSP client library sits between the fuzzer and the server: whatever bytes the fuzzer makes reach the
server's stdin as they are. A reader thread splits stdout into messages; responses are kept by id,
notifications (window/showMessage, ...) in order. The process's RSS and its internet sockets are read
from /proc (Linux).
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

FAST = {"steps": 2, "debounceMs": 0, "maxSpanTokens": 8}
MODEL = "stipple-tiny"  # named, not the embedded default (which changes): runs stay comparable
INET_TABLES = ("tcp", "tcp6", "udp", "udp6", "raw", "raw6")


def frame(message: Any) -> bytes:
    """One message as the protocol frames it (ensure_ascii: a lone surrogate travels as \\udXXX)."""
    body = json.dumps(message).encode("ascii") if not isinstance(message, bytes) else message
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class WireServer:
    def __init__(self, settings: dict | None = None, args: tuple[str, ...] = (), env: dict | None = None,
                 root: Path | None = None) -> None:
        self.root = root
        self.log = Path(tempfile.mkstemp(prefix="stipple-wire-", suffix=".log")[1])
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lsp_server", "serve", "--log-level", "info", "--log-file", str(self.log), *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env={**os.environ, "STIPPLE_THREADS": "1", "OMP_NUM_THREADS": "1", **(env or {})})
        self.responses: dict[Any, dict] = {}
        self.notifications: list[dict] = []
        self.arrivals: list[Any] = []
        """Response ids in the order they came off stdout (stdout is one ordered stream)."""
        self.unparsable = 0
        self._cond = threading.Condition()
        self._ids = itertools.count(1)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.settings = {"model": MODEL, **FAST, **(settings or {})}

    # -- the wire --------------------------------------------------------------------------------
    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    with self._cond:
                        self._cond.notify_all()
                    return
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
                elif line in (b"\r\n", b"\n") and length is not None:
                    break
            try:
                message = json.loads(out.read(length))
            except ValueError:
                self.unparsable += 1
                continue
            with self._cond:
                if not isinstance(message, dict):
                    self.unparsable += 1
                elif "id" in message and "method" not in message:
                    key = message["id"] if isinstance(message["id"], (int, str, type(None))) else repr(message["id"])
                    self.responses[key] = message
                    self.arrivals.append(key)
                elif "id" in message:  # a server -> client request: answer it like an editor
                    self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
                else:
                    self.notifications.append(message)
                self._cond.notify_all()

    def send_bytes(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, message: Any) -> None:
        self.send_bytes(frame(message))

    def notify(self, method: str, params: Any) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def request_async(self, method: str, params: Any) -> str:
        msg_id = f"w{next(self._ids)}"
        self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return msg_id

    def wait(self, msg_id: Any, timeout: float = 30.0) -> dict | None:
        """The response to msg_id, or None when none came within timeout (or the server died)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while msg_id not in self.responses:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    return self.responses.get(msg_id)
                self._cond.wait(min(left, 0.5))
            return self.responses[msg_id]

    def request(self, method: str, params: Any, timeout: float = 30.0) -> dict | None:
        return self.wait(self.request_async(method, params), timeout)

    # -- a session -------------------------------------------------------------------------------
    def start(self, timeout: float = 120.0) -> dict:
        """initialize + initialized, then wait for the model; the last stipple.status."""
        root = self.root.resolve().as_uri() if self.root else None
        reply = self.request("initialize", {"processId": os.getpid(), "rootUri": root, "capabilities": {},
                                            "initializationOptions": {"stipple": self.settings}}, timeout)
        assert reply is not None and "result" in reply, reply
        self.notify("initialized", {})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status()
            if status and (status["ready"] or status["error"]):
                return status
            time.sleep(0.1)
        raise TimeoutError("the model did not load")

    def status(self, timeout: float = 30.0) -> dict | None:
        reply = self.request("workspace/executeCommand", {"command": "stipple.status"}, timeout)
        return reply.get("result") if reply else None

    def stop(self) -> int | None:
        """shutdown + exit; the exit code (None if it had to be killed)."""
        try:
            if self.alive:
                self.request("shutdown", None, 10)
                self.notify("exit", None)
                self.proc.stdin.close()
            return self.proc.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
            return None

    # -- the process, from /proc -----------------------------------------------------------------
    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def inet_sockets(self) -> list[str]:
        return [" ".join(row) for row in inet_sockets(self.proc.pid)]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def inet_sockets(pid: int) -> list[tuple[str, str, str, str]]:
    """The process's open internet sockets (TCP/UDP/raw, v4 and v6) as (table, local, remote, state), in
    /proc's hex notation (local 0100007F:1F90 is 127.0.0.1:8080; state 0A is LISTEN). asyncio's self-pipe
    is a Unix socketpair: it is in no internet table and is not counted."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table in INET_TABLES:
        path = Path(f"/proc/{pid}/net/{table}")
        for row in path.read_text().splitlines()[1:] if path.exists() else []:
            cols = row.split()
            if len(cols) > 9 and cols[9] in inodes:
                found.append((table, cols[1], cols[2], cols[3]))
    return found
