"""Servers with their own start-up: a bad model directory, a negotiated UTF-8 encoding, TCP."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from e2e_helpers import FAST, SERVER, SERVER_ENV, initialize, inline, open_doc, wait_ready


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient):
    yield
    await lsp_client.shutdown_session()


@pytest.mark.asyncio
async def test_bad_model_dir_then_fixed_by_configuration(client: LanguageClient, tmp_path, model_option):
    (tmp_path / "config.json").write_text("{ not json")
    await initialize(client, {**FAST, "model": str(tmp_path)})
    status = await wait_ready(client)
    assert not status["ready"] and status["error"]
    if not client.messages:
        await client.wait_for_notification(types.WINDOW_SHOW_MESSAGE)
    errors = [m for m in client.messages if m.type == types.MessageType.Error]
    assert errors and str(tmp_path) in errors[0].message and "cannot load" in errors[0].message
    open_doc(client, "file:///w/b.py", "python", "x = \n")
    assert await inline(client, "file:///w/b.py", types.Position(0, 4)) == []  # not ready: empty, no error
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"stipple": {"model": model_option.get("model")}}))
    await asyncio.sleep(0.2)
    assert (await wait_ready(client))["ready"]


@pytest.mark.asyncio
async def test_utf8_positions_when_negotiated(client: LanguageClient, model_option):
    result = await initialize(client, {**model_option, **FAST}, encodings=["utf-8", "utf-16"])
    assert result.capabilities.position_encoding == types.PositionEncodingKind.Utf8
    await wait_ready(client)
    text = 'label = "😀é"\nname = label + \n'
    open_doc(client, "file:///w/u.py", "python", text)
    cursor = types.Position(1, len("name = label + ".encode()))
    for item in await inline(client, "file:///w/u.py", cursor):
        assert item.range.start == cursor and "\n" not in item.insert_text


def test_tcp_binds_localhost_and_answers(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "lsp_server", "serve", "--tcp", str(port)],
                              env=SERVER_ENV, stderr=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        for _ in range(100):
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=10)
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()
                time.sleep(0.1)
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                           "params": {"processId": None, "rootUri": None, "capabilities": {}}}).encode()
        conn.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        reply = b""
        while b"inlineCompletionProvider" not in reply:
            chunk = conn.recv(65536)
            assert chunk, reply
            reply += chunk
        conn.close()
        assert b'"positionEncoding": "utf-16"' in reply or b'"positionEncoding":"utf-16"' in reply
    finally:
        server.kill()
        server.wait()
    assert server.stdout.read() == b""  # stdout is never written to
