"""End-to-end helpers: the real `stipple serve` subprocess driven by pytest-lsp, with the real model.

The embedded default model is used when it is in place; until then a random-weight model directory
(the tests check protocol behaviour and well-formedness, never quality). One server per module:
the event loop scope matches the fixture scope, or pytest-lsp hangs.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = REPO / "engine" / "assets" / "stipple-tiny"
SERVER_ENV = {**os.environ, "STIPPLE_THREADS": "1", "OMP_NUM_THREADS": "1"}
SERVER = ClientServerConfig(server_command=[sys.executable, "-m", "lsp_server", "serve", "--log-level", "debug"],
                            server_env=SERVER_ENV)
FAST = {"steps": 4, "debounceMs": 0, "maxSpanTokens": 24}


async def initialize(client: LanguageClient, options: dict,
                     encodings: list[str] | None = None) -> types.InitializeResult:
    capabilities = types.ClientCapabilities(
        window=types.WindowClientCapabilities(work_done_progress=True),
        workspace=types.WorkspaceClientCapabilities(configuration=False),
        general=types.GeneralClientCapabilities(position_encodings=encodings) if encodings else None)
    return await client.initialize_session(types.InitializeParams(
        capabilities=capabilities, initialization_options={"stipple": options}))


async def wait_ready(client: LanguageClient, timeout: float = 60) -> dict:
    """Poll stipple.status until the model is loaded (or failed)."""
    for _ in range(int(timeout * 10)):
        status = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="stipple.status"))
        if status["ready"] or status["error"]:
            return status
        await asyncio.sleep(0.1)
    raise TimeoutError("model did not load")


def open_doc(client: LanguageClient, uri: str, language: str, text: str, version: int = 1) -> None:
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri=uri, language_id=language, version=version, text=text)))


def cursor_of(text: str, marker: str = "<|>") -> tuple[str, types.Position]:
    """Text without the marker, and the marker's LSP position in UTF-16 units."""
    before, after = text.split(marker)
    lines = before.split("\n")
    return before + after, types.Position(len(lines) - 1, len(lines[-1].encode("utf-16-le")) // 2)


async def inline(client: LanguageClient, uri: str, position: types.Position) -> list[types.InlineCompletionItem]:
    result = await client.text_document_inline_completion_async(types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri), position=position,
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked)))
    return list(result.items if isinstance(result, types.InlineCompletionList) else result or [])


async def inline_with_spans(client: LanguageClient, uri: str, position: types.Position,
                            received: list) -> tuple[list[types.InlineCompletionItem], dict]:
    """An inline request and the stipple/spans notification it produced (a server started with --spans
    whose handler appends to `received`), as a dict."""
    received.clear()
    items = await inline(client, uri, position)
    for _ in range(50):
        if received:
            break
        await asyncio.sleep(0.02)
    spans = received[-1]
    return items, spans._asdict() if hasattr(spans, "_asdict") else spans
