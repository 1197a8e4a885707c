"""Workspace context through the real server: a name defined in another workspace file reaches the
prompt of a cursor that uses it (stipple.workspaceContext, and the spans of a real completion request),
and a file written on disk while the server runs is found by the next request."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from e2e_helpers import FAST, SERVER, SERVER_ENV, cursor_of, inline_with_spans, open_doc, wait_ready
from lsp_server.server import PROGRESS_MIN_FILES

pytestmark = pytest.mark.asyncio(loop_scope="module")

SPANS_SERVER = ClientServerConfig(server_command=[*SERVER.server_command, "--spans"], server_env=SERVER_ENV)
GEOMETRY = "def circle_area(radius: float) -> float:\n    return 3.14159 * radius ** 2\n"
MAIN = "from geometry import circle_area\n\n\ndef report(r):\n    return circle_<|>\n"
received: list = []


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("workspace")
    (root / "geometry.py").write_text(GEOMETRY)
    (root / "main.py").write_text(MAIN.replace("<|>", ""))
    (root / ".gitignore").write_text("ignored/\n")
    (root / "ignored").mkdir()
    (root / "ignored" / "hidden.py").write_text("def circle_hidden(): pass\n")
    (root / "many").mkdir()
    for i in range(PROGRESS_MIN_FILES):  # enough files for $/progress
        (root / "many" / f"m{i}.py").write_text(f"VALUE_{i} = {i}\n")
    return root


@pytest_lsp.fixture(scope="module", config=SPANS_SERVER)
async def client(lsp_client: LanguageClient, model_option: dict, workspace: Path):
    lsp_client.feature("stipple/spans")(lambda params: received.append(params))
    capabilities = types.ClientCapabilities(window=types.WindowClientCapabilities(work_done_progress=True))
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=capabilities, root_uri=workspace.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="workspace")],
        initialization_options={"stipple": {**model_option, **FAST}}))
    yield
    await lsp_client.shutdown_session()


async def context_at(client: LanguageClient, uri: str, position: types.Position) -> dict:
    for _ in range(100):  # the first indexing runs in the background
        result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
            command="stipple.workspaceContext", arguments=[uri, {"line": position.line,
                                                                 "character": position.character}]))
        if result["ready"]:
            return result
        await asyncio.sleep(0.05)
    raise TimeoutError("the workspace was not indexed")


async def test_a_name_from_another_file_reaches_the_prompt(client: LanguageClient, workspace: Path):
    await wait_ready(client)
    uri = (workspace / "main.py").as_uri()
    text, position = cursor_of(MAIN)
    open_doc(client, uri, "python", text)
    result = await context_at(client, uri, position)
    assert result["files"] == ["geometry.py"] and "circle_area" in result["names"]
    assert result["block"].startswith("# geometry.py\ndef circle_area(radius: float) -> float: ...\n")
    assert "circle_hidden" not in result["block"]  # .gitignore holds
    assert result["indexedFiles"] == PROGRESS_MIN_FILES + 2  # many/, geometry.py, main.py
    for _ in range(100):  # the end of the progress follows the index being ready
        reports = [r for token, rs in client.progress_reports.items() for r in rs if "stipple-index" in str(token)]
        if reports and isinstance(reports[-1], types.WorkDoneProgressEnd):
            break
        await asyncio.sleep(0.02)
    assert isinstance(reports[0], types.WorkDoneProgressBegin) and isinstance(reports[-1], types.WorkDoneProgressEnd)
    items, spans = await inline_with_spans(client, uri, position, received)
    assert list(spans["workspaceFiles"]) == ["geometry.py"] and spans["workspaceChars"] == len(result["block"])
    stages = spans["stages"]._asdict() if hasattr(spans["stages"], "_asdict") else spans["stages"]
    assert spans["prefixChars"] > spans["workspaceChars"] and "workspace" in stages
    assert all("\n" not in item.insert_text for item in items)  # still only the rest of the line


async def test_a_file_written_while_serving_is_found(client: LanguageClient, workspace: Path):
    uri = (workspace / "main.py").as_uri()
    marked = "from geometry import circle_area\n\n\ndef report(r):\n    return parse_radius(<|>\n"
    text, position = cursor_of(marked)
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))
    (workspace / "parsing.py").write_text("def parse_radius(text: str) -> float:\n    return float(text)\n")
    for _ in range(100):
        result = await context_at(client, uri, position)
        if "parse_radius" in result["names"]:
            break
        await asyncio.sleep(0.05)
    assert "def parse_radius(text: str) -> float: ..." in result["block"]
