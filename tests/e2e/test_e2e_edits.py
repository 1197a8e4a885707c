"""The edit-selection commands through the real server with the shipped model: each command's edit is
applied by the client (workspace/applyEdit) and the document checked; code actions resolve lazily;
a selection too large for the model is refused with a message."""

from __future__ import annotations

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from e2e_helpers import FAST, SERVER, open_doc, wait_ready

pytestmark = pytest.mark.asyncio(loop_scope="module")

CODE = ("def total_length(words):\n    result = 0\n    for word in words:\n        result += len(wrod)\n"
        "    return result\n")
BODY = {"start": {"line": 1, "character": 0}, "end": {"line": 4, "character": 17}}


@pytest_lsp.fixture(scope="module", config=SERVER)
async def client(lsp_client: LanguageClient, model_option: dict):
    lsp_client.applied = []

    @lsp_client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(ls: LanguageClient, params: types.ApplyWorkspaceEditParams):
        ls.applied.append(params)
        return types.ApplyWorkspaceEditResult(applied=True)

    capabilities = types.ClientCapabilities(
        workspace=types.WorkspaceClientCapabilities(
            apply_edit=True, configuration=False,
            workspace_edit=types.WorkspaceEditClientCapabilities(
                document_changes=True, change_annotation_support=types.ChangeAnnotationsSupportOptions())),
        text_document=types.TextDocumentClientCapabilities(code_action=types.CodeActionClientCapabilities(
            resolve_support=types.ClientCodeActionResolveOptions(properties=["edit"]))))
    lsp_client.initialize_result = await lsp_client.initialize_session(types.InitializeParams(
        capabilities=capabilities, initialization_options={"stipple": {**model_option, **FAST}}))
    yield
    await lsp_client.shutdown_session()


def offset(text: str, position: types.Position) -> int:
    lines = text.split("\n")
    return sum(len(line) + 1 for line in lines[: position.line]) + position.character  # ASCII: UTF-16 = chars


def apply(text: str, edit: types.WorkspaceEdit, uri: str) -> str:
    """The document after a WorkspaceEdit, as an editor would apply it."""
    if edit.document_changes:
        text_edits = [e for change in edit.document_changes if change.text_document.uri == uri for e in change.edits]
    else:
        text_edits = edit.changes[uri]
    for e in sorted(text_edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        text = text[: offset(text, e.range.start)] + e.new_text + text[offset(text, e.range.end) :]
    return text


async def run(client: LanguageClient, command: str, uri: str, **extra) -> dict:
    before = len(client.applied)
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command=command, arguments=[{"uri": uri, "range": BODY, **extra}]))
    assert len(client.applied) == before + (1 if result["applied"] else 0)
    return result


async def test_capabilities_advertise_commands_and_code_actions(client: LanguageClient):
    await wait_ready(client)
    caps = client.initialize_result.capabilities
    assert {"stipple.regenerate", "stipple.repair", "stipple.rewrite"} <= set(caps.execute_command_provider.commands)
    assert caps.code_action_provider.resolve_provider
    assert types.CodeActionKind.RefactorRewrite in caps.code_action_provider.code_action_kinds


@pytest.mark.parametrize("command, extra", [
    ("stipple.regenerate", {}),
    ("stipple.regenerate", {"alternative": 1}),
    ("stipple.repair", {"strict": False}),  # the tiny test model is never sure enough for a strict repair
    ("stipple.rewrite", {"instruction": "count the characters of every word"}),
])
async def test_command_applies_one_annotated_edit_inside_the_selection(client: LanguageClient, command, extra):
    await wait_ready(client)
    uri = f"file:///w/{command.split('.')[1]}{extra.get('alternative', '')}.py"
    open_doc(client, uri, "python", CODE)
    result = await run(client, command, uri, **extra)
    assert result["applied"], result
    edit = client.applied[-1].edit
    assert edit.change_annotations["stipple"].needs_confirmation
    after = apply(CODE, edit, uri)
    head, tail = CODE[: offset(CODE, types.Position(1, 0))], CODE[offset(CODE, types.Position(4, 17)) :]
    assert after.startswith(head) and after.endswith(tail) and after != CODE
    assert after[len(head) : len(after) - len(tail)] == result["text"]  # what the server says it wrote
    if command == "stipple.rewrite":
        assert "count the characters" not in after  # the instruction conditions the span, it is not inserted


async def test_strict_repair_keeps_correct_code(client: LanguageClient):
    await wait_ready(client)
    uri = "file:///w/strict.py"
    open_doc(client, uri, "python", CODE)
    result = await run(client, "stipple.repair", uri)
    if result["applied"]:  # a model sure of a fix: it must stay inside the selection
        assert apply(CODE, client.applied[-1].edit, uri).startswith(CODE[:25])
    else:
        assert result["message"] == "the model found nothing to change"


async def test_code_action_resolves_to_the_edit(client: LanguageClient):
    await wait_ready(client)
    uri = "file:///w/action.py"
    open_doc(client, uri, "python", CODE)
    selection = types.Range(types.Position(1, 0), types.Position(4, 17))
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        types.TextDocumentIdentifier(uri), selection, types.CodeActionContext(diagnostics=[])))
    regenerate = next(a for a in actions if a.data["command"] == "stipple.regenerate")
    assert regenerate.kind == types.CodeActionKind.RefactorRewrite and regenerate.edit is None  # lazy
    resolved = await client.code_action_resolve_async(regenerate)
    after = apply(CODE, resolved.edit, uri)
    assert after != CODE and after.startswith(CODE[:25]) and after.endswith("\n")


async def test_too_large_selection_is_refused_with_a_message(client: LanguageClient):
    await wait_ready(client)
    uri = "file:///w/big.py"
    big = "".join(f"value_{i} = compute(value_{i}, {i}) + other_{i}\n" for i in range(120))
    open_doc(client, uri, "python", big)
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="stipple.repair", arguments=[{"uri": uri, "range": {
            "start": {"line": 0, "character": 0}, "end": {"line": 120, "character": 0}}}]))
    assert result["applied"] is False and "Select less" in result["message"]
    assert any("Select less" in m.message for m in client.messages)


async def test_bad_argument_is_answered_not_fatal(client: LanguageClient):
    await wait_ready(client)
    result = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="stipple.rewrite", arguments=[{"uri": "file:///w/x.py", "range": BODY}]))
    assert result["applied"] is False and "instruction" in result["message"]
    status = await client.workspace_execute_command_async(types.ExecuteCommandParams(command="stipple.status"))
    assert status["ready"]
