"""Typed-through suggestions end to end: typing the start of the ghost text gets its rest without a
model run. A random-weight model (it always writes something; the embedded tiny one often writes
nothing worth showing), so the test is about the protocol, not quality."""

from __future__ import annotations

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from e2e_helpers import FAST, SERVER, cursor_of, initialize, inline, open_doc, wait_ready

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_lsp.fixture(scope="module", config=SERVER)
async def client(lsp_client: LanguageClient, random_model_dir):
    lsp_client.initialize_result = await initialize(lsp_client, {"model": str(random_model_dir), **FAST})
    yield
    await lsp_client.shutdown_session()


async def status_of(client: LanguageClient) -> dict:
    return await client.workspace_execute_command_async(types.ExecuteCommandParams(command="stipple.status"))


async def test_typing_the_suggestion_serves_the_rest_without_the_model(client: LanguageClient):
    await wait_ready(client)
    uri = "file:///w/typed.py"
    text, position = cursor_of("def area(width, height):\n    result = <|>\n    return result\n")
    open_doc(client, uri, "python", text)
    items = await inline(client, uri, position)
    assert items and len(items[0].insert_text) >= 2, f"the model offered nothing to type through: {items}"
    shown = items[0].insert_text
    before = (await status_of(client))["counters"]
    typed = shown[0]
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangePartial(range=types.Range(position, position), text=typed)]))
    after_typing = types.Position(position.line, position.character + 1)
    items = await inline(client, uri, after_typing)
    assert [item.insert_text for item in items] == [shown[1:]]
    assert items[0].range.start == after_typing
    after = (await status_of(client))["counters"]
    assert after["generated"] == before["generated"]  # no model run
    assert after["offered"] == before["offered"] + 1
    # A character that contradicts the suggestion drops it: the model runs again.
    wrong = "z" if shown[1] != "z" else "y"
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=3),
        content_changes=[types.TextDocumentContentChangePartial(
            range=types.Range(after_typing, after_typing), text=wrong)]))
    await inline(client, uri, types.Position(position.line, position.character + 2))
    assert (await status_of(client))["counters"]["generated"] == after["generated"] + 1
