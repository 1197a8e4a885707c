"""One live server for the module: capabilities, progress, completions per language, fallback,
cancellation, configuration, commands and malformed requests."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import Future

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcRequestCancelled
from pytest_lsp import LanguageClient

from e2e_helpers import FAST, SERVER, cursor_of, initialize, inline, open_doc, wait_ready

pytestmark = pytest.mark.asyncio(loop_scope="module")

SAMPLES = {
    "python": ("file:///w/a.py", "import os\n\n\ndef area(width, height):\n    result = <|>\n    return result\n"),
    "javascript": ("file:///w/a.js", "function area(width, height) {\n  const result = <|>\n  return result;\n}\n"),
    "typescript": ("file:///w/a.ts", "function area(w: number, h: number): number {\n  return <|>\n}\n"),
    "typescriptreact": ("file:///w/a.tsx", "export function App() {\n  const x = <|>\n  return <div>{x}</div>;\n}\n"),
    "rust": ("file:///w/a.rs", "fn area(w: u32, h: u32) -> u32 {\n    let r = <|>\n    r\n}\n"),
    "go": ("file:///w/a.go", "package main\n\nfunc area(w, h int) int {\n\tr := <|>\n\treturn r\n}\n"),
}


@pytest_lsp.fixture(scope="module", config=SERVER)
async def client(lsp_client: LanguageClient, model_option: dict):
    lsp_client.initialize_result = await initialize(lsp_client, {**model_option, **FAST})
    yield
    await lsp_client.shutdown_session()


async def test_capabilities(client: LanguageClient):
    caps = client.initialize_result.capabilities
    assert caps.inline_completion_provider is not None and caps.inline_completion_provider is not False
    assert caps.completion_provider is not None
    assert caps.position_encoding == types.PositionEncodingKind.Utf16
    sync = caps.text_document_sync
    assert getattr(sync, "change", sync) == types.TextDocumentSyncKind.Incremental
    assert {"stipple.accept", "stipple.reject", "stipple.status"} <= set(caps.execute_command_provider.commands)


async def test_progress_on_load(client: LanguageClient):
    status = await wait_ready(client)
    assert status["ready"], status
    reports = [r for token, rs in client.progress_reports.items() for r in rs if "stipple-load" in str(token)]
    assert isinstance(reports[0], types.WorkDoneProgressBegin)
    assert isinstance(reports[-1], types.WorkDoneProgressEnd)


@pytest.mark.parametrize("language", list(SAMPLES))
async def test_inline_completion_each_language(client: LanguageClient, language: str):
    await wait_ready(client)
    uri, marked = SAMPLES[language]
    text, position = cursor_of(marked)
    open_doc(client, uri, language, text)
    generated = (await status_of(client))["counters"]["generated"]
    items = await inline(client, uri, position)
    assert (await status_of(client))["counters"]["generated"] == generated + 1  # the engine ran for it
    for item in items:  # a random model may produce whitespace only, which is dropped
        assert isinstance(item.insert_text, str) and item.insert_text.strip()
        assert "\n" not in item.insert_text and "\r" not in item.insert_text  # single-line cursor
        assert item.range.start == position and item.range.end == position
        assert item.command.command == "stipple.accept"


async def test_multi_line_after_block_header(client: LanguageClient):
    await wait_ready(client)
    text, position = cursor_of("def greet(name):<|>\n\n\nprint(greet('x'))\n")
    open_doc(client, "file:///w/multi.py", "python", text)
    for item in await inline(client, "file:///w/multi.py", position):
        assert item.insert_text.strip() and not item.insert_text.endswith((" ", "\t"))


async def test_skip_inside_string_and_comment(client: LanguageClient):
    await wait_ready(client)
    text, position = cursor_of('x = "abc<|>"\n# note\n')
    open_doc(client, "file:///w/skip.py", "python", text)
    assert await inline(client, "file:///w/skip.py", position) == []
    assert await inline(client, "file:///w/skip.py", types.Position(1, 6)) == []


async def test_completion_fallback(client: LanguageClient):
    await wait_ready(client)
    uri, marked = SAMPLES["python"]
    text, position = cursor_of(marked)
    open_doc(client, uri + "c", "python", text)
    result = await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri + "c"), position=position))
    assert isinstance(result, types.CompletionList) and len(result.items) <= 1
    for item in result.items:
        assert item.text_edit.range == types.Range(position, position)
        assert item.text_edit.new_text.strip() and item.label


async def test_cancel_previous(client: LanguageClient):
    await wait_ready(client)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"stipple": {"steps": 64, "maxSpanTokens": 64}}))
    text, position = cursor_of("def f(a, b):<|>\n")  # block header: a 64-slot span, 64 steps
    open_doc(client, "file:///w/cancel.py", "python", text)
    first = asyncio.ensure_future(inline(client, "file:///w/cancel.py", position))
    await asyncio.sleep(0.02)
    second = await inline(client, "file:///w/cancel.py", position)
    assert await first == []  # superseded by the second request for the same document
    status = await client.workspace_execute_command_async(types.ExecuteCommandParams(command="stipple.status"))
    assert status["counters"]["cancelled"] >= 1 and status["settings"]["steps"] == 64
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"stipple": FAST}))
    assert isinstance(second, list)


async def test_cancel_request(client: LanguageClient):
    await wait_ready(client)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"stipple": {"steps": 64, "maxSpanTokens": 64}}))
    text, position = cursor_of("def g(a):<|>\n")
    open_doc(client, "file:///w/cancelreq.py", "python", text)
    params = types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier("file:///w/cancelreq.py"), position=position,
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic))
    future = client.protocol.send_request(types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id="cancel-me")
    await asyncio.sleep(0.02)
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="cancel-me"))
    with pytest.raises(JsonRpcRequestCancelled):
        await asyncio.wrap_future(future)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"stipple": FAST}))
    status = await client.workspace_execute_command_async(types.ExecuteCommandParams(command="stipple.status"))
    assert status["ready"] and status["settings"]["steps"] == FAST["steps"]  # alive, and the engine is free
    assert isinstance(await inline(client, "file:///w/cancelreq.py", position), list)


async def test_result_for_an_older_version_is_dropped(client: LanguageClient):
    await wait_ready(client)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"stipple": {"steps": 64, "maxSpanTokens": 64}}))
    uri = "file:///w/stale.py"
    text, position = cursor_of("def h(a):<|>\n")
    open_doc(client, uri, "python", text)
    before = (await status_of(client))["counters"]
    pending = asyncio.ensure_future(inline(client, uri, position))
    await asyncio.sleep(0.02)
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangePartial(
            range=types.Range(types.Position(1, 0), types.Position(1, 0)), text="# edited\n")]))
    assert await pending == []
    after = (await status_of(client))["counters"]
    assert after["cancelled"] + after["stale"] > before["cancelled"] + before["stale"]
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"stipple": FAST}))


async def test_incremental_edits_and_crlf(client: LanguageClient):
    await wait_ready(client)
    uri = "file:///w/crlf.py"
    open_doc(client, uri, "python", "def f(x):\r\n    return x\r\n")
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangePartial(
            range=types.Range(types.Position(1, 11), types.Position(1, 12)), text="x * 2\r\n\r\ndef g(y):")]))
    items = await inline(client, uri, types.Position(3, 9))  # end of the new `def g(y):` header
    for item in items:
        assert item.range.start == types.Position(3, 9)
        assert "\n" not in item.insert_text.replace("\r\n", "")  # the file's CRLF, never a bare LF


async def test_accept_reject_counters(client: LanguageClient):
    before = (await status_of(client))["counters"]
    for command in ("stipple.accept", "stipple.accept", "stipple.reject"):
        await client.workspace_execute_command_async(types.ExecuteCommandParams(command=command, arguments=["r1"]))
    after = (await status_of(client))["counters"]
    assert after["accepted"] == before["accepted"] + 2 and after["rejected"] == before["rejected"] + 1


async def test_language_disabled_by_configuration(client: LanguageClient):
    await wait_ready(client)
    uri, marked = SAMPLES["go"]
    text, position = cursor_of(marked)
    open_doc(client, uri + "x", "go", text)
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"stipple": {"languages": {"go": False}}}))
    assert await inline(client, uri + "x", position) == []
    assert (await status_of(client))["settings"]["languages"]["python"] is True
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
        settings={"stipple": {"languages": {"go": True}}}))


@pytest.mark.parametrize("method, params", [
    (types.TEXT_DOCUMENT_INLINE_COMPLETION,  # a position far past the end: clamped, answered
     {"textDocument": {"uri": "file:///w/a.py"}, "position": {"line": 9999, "character": 9999},
      "context": {"triggerKind": 1}}),
    (types.TEXT_DOCUMENT_INLINE_COMPLETION,  # a document never opened
     {"textDocument": {"uri": "file:///nowhere.py"}, "position": {"line": 0, "character": 0},
      "context": {"triggerKind": 1}}),
    (types.TEXT_DOCUMENT_COMPLETION,  # wrong types
     {"textDocument": {"uri": 42}, "position": {"line": "x", "character": None}}),
    (types.TEXT_DOCUMENT_INLINE_COMPLETION, {"textDocument": {"uri": "file:///w/a.py"},
                                              "position": {"line": -1, "character": -5},
                                              "context": {"triggerKind": 1}}),
    (types.WORKSPACE_EXECUTE_COMMAND, {"command": "stipple.nope"}),
])
async def test_malformed_requests_survive(client: LanguageClient, method: str, params: dict):
    await wait_ready(client)
    future = send_raw(client, method, params)
    try:
        result = await asyncio.wait_for(asyncio.wrap_future(future), 30)
        assert result is None or not getattr(result, "items", None) or method == types.TEXT_DOCUMENT_INLINE_COMPLETION
    except JsonRpcException:
        pass  # an error response is fine; a dead server is not
    assert (await status_of(client))["ready"]


async def status_of(client: LanguageClient) -> dict:
    return await client.workspace_execute_command_async(types.ExecuteCommandParams(command="stipple.status"))


def send_raw(client: LanguageClient, method: str, params: dict) -> Future:
    """Send a request as plain JSON, bypassing the client's type checks (which would refuse it)."""
    msg_id = f"raw-{uuid.uuid4().hex}"
    future: Future = Future()
    client.protocol._request_futures[msg_id] = future
    client.protocol._send_data({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
    return future
