"""Raw bytes to the real server (stdio): the fuzzer's findings, one row each, kept as regressions.

Each row sends what once crashed the server or left a request unanswered, then checks that the
request is answered as the row says and that the server still answers stipple.status.
"""

from __future__ import annotations

import time

import pytest

from benchmarks.reliability.wire import WireServer

URI = "file:///w/wire.py"
INVALID_REQUEST = -32600


@pytest.fixture(scope="module")
def server():
    wire = WireServer()
    assert wire.start()["ready"]
    yield wire
    wire.stop()


def status_request(msg_id: str, **envelope) -> dict:
    return {"jsonrpc": "2.0", "id": msg_id, "method": "workspace/executeCommand",
            "params": {"command": "stipple.status"}, **envelope}


def without_jsonrpc(msg_id: str) -> dict:
    message = status_request(msg_id)
    del message["jsonrpc"]
    return message


CASES = [  # (name, what to send given an id, the error code expected; None: a result)
    ("a frame declaring 1 TB (was: MemoryError, server gone)",
     lambda i: [b"Content-Length: 1000000000000\r\n\r\n" + b"x" * 70_000 + b"\r\n", status_request(i)], None),
    ("jsonrpc 1.0 (was: dropped, never answered)", lambda i: [status_request(i, jsonrpc="1.0")], INVALID_REQUEST),
    ("jsonrpc 0 (was: dropped)", lambda i: [status_request(i, jsonrpc=0)], INVALID_REQUEST),
    ("no jsonrpc (was: dropped)", lambda i: [without_jsonrpc(i)], INVALID_REQUEST),
    ("lone surrogates in a document (was: didOpen failed, UnicodeEncodeError)", lambda i: [
        {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": URI, "languageId": "python", "version": 1, "text": "x = '\ud800'\ny = \udfff"}}},
        {"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
            "textDocument": {"uri": URI, "version": 2},
            "contentChanges": [{"range": {"start": {"line": 1, "character": 4}, "end": {"line": 1, "character": 4}},
                                "text": "\ude00 + "}]}},
        {"jsonrpc": "2.0", "id": i, "method": "textDocument/inlineCompletion", "params": {
            "textDocument": {"uri": URI}, "position": {"line": 1, "character": 7}, "context": {"triggerKind": 1}}}],
     None),
]


@pytest.mark.parametrize("name, messages, error", CASES, ids=[c[0].split(" (")[0] for c in CASES])
def test_bad_input_is_answered_and_the_server_lives(server: WireServer, name, messages, error):
    msg_id = f"case-{abs(hash(name))}"
    for message in messages(msg_id):
        server.send_bytes(message) if isinstance(message, bytes) else server.send(message)
    reply = server.wait(msg_id, 30)
    assert reply is not None, f"unanswered; log tail:\n{server.log_text()[-2000:]}"
    assert (reply.get("error") or {}).get("code") == error, reply
    assert server.status() is not None and server.alive


def test_lone_surrogates_become_replacement_characters(server: WireServer):
    reply = server.request("workspace/executeCommand", {"command": "stipple.workspaceContext",
                                                        "arguments": [URI, {"line": 1, "character": 7}]})
    assert "result" in reply and "error" not in reply["result"], reply  # the document is open


def test_a_debounce_of_hours_is_refused(server: WireServer):
    """debounceMs 10**9 once held every request that long (the client saw a hang)."""
    server.notify("workspace/didChangeConfiguration", {"settings": {"stipple": {"debounceMs": 10**9}}})
    assert server.status()["settings"]["debounce_ms"] == 0
    assert any("debounceMs" in n["params"]["message"] for n in server.notifications
               if n["method"] == "window/showMessage")


def test_a_superseded_debounce_ends_at_once(server: WireServer):
    server.notify("workspace/didChangeConfiguration", {"settings": {"stipple": {"debounceMs": 3000}}})
    params = {"textDocument": {"uri": URI}, "position": {"line": 0, "character": 0}, "context": {"triggerKind": 2}}
    started = time.perf_counter()
    first = server.request_async("textDocument/inlineCompletion", params)
    second = server.request_async("textDocument/inlineCompletion", params)
    assert server.wait(first, 10)["result"]["items"] == []
    assert time.perf_counter() - started < 2.0  # not after the 3 s debounce
    assert server.wait(second, 10) is not None
    server.notify("workspace/didChangeConfiguration", {"settings": {"stipple": {"debounceMs": 0}}})


def test_requests_after_shutdown_are_refused_then_exit_is_clean(server: WireServer):
    assert "result" in server.request("shutdown", None)
    reply = server.request("workspace/executeCommand", {"command": "stipple.status"})
    assert reply["error"]["code"] == INVALID_REQUEST  # was: silence (pygls drops it)
    server.notify("exit", None)
    assert server.proc.wait(10) == 0
