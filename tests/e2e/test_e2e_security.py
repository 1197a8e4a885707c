"""SECURITY.md's network promises, held by the real server: on stdio it opens no internet socket at all
(model load, workspace indexing, completions, commands), and `--tcp` listens on loopback unless an
address is given explicitly."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from benchmarks.reliability.wire import WireServer, inet_sockets
from e2e_helpers import SERVER_ENV

LOOPBACK, ANY = "0100007F", "00000000"  # /proc/net/tcp's little-endian hex for 127.0.0.1 and 0.0.0.0


def test_stdio_server_opens_no_internet_socket(tmp_path):
    (tmp_path / "geometry.py").write_text("def area(w, h):\n    return w * h\n")
    server = WireServer(root=tmp_path)
    try:
        assert server.start()["ready"]
        uri = (tmp_path / "main.py").as_uri()
        server.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                                "text": "from geometry import area\nx = area("}})
        for method in ("textDocument/inlineCompletion", "textDocument/completion"):
            reply = server.request(method, {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 9},
                                            "context": {"triggerKind": 1}})
            assert "result" in reply, reply
        assert server.request("workspace/executeCommand", {"command": "stipple.workspaceContext",
                                                           "arguments": [uri, {"line": 1, "character": 9}]})
        assert server.inet_sockets() == []
    finally:
        server.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("spec, address", [("{port}", LOOPBACK), ("0.0.0.0:{port}", ANY)])
def test_tcp_listens_on_loopback_unless_told(spec: str, address: str):
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "lsp_server", "serve", "--tcp", spec.format(port=port)],
                              env=SERVER_ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        listening = []
        for _ in range(200):
            assert server.poll() is None
            listening = [local for table, local, _, state in inet_sockets(server.pid) if state == "0A"]
            if listening:
                break
            time.sleep(0.05)
        assert listening == [f"{address}:{port:04X}"]
    finally:
        server.kill()
        server.wait()
