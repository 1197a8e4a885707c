"""lsp_server/edits.py without a model: argument checks, WorkspaceEdit shapes, code actions, and what
happens when the model work is cancelled, the document changes meanwhile, or the selection is too big."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from lsprotocol import types

from engine.edits.repair import Edit
from lsp_server import edits
from lsp_server.documents import Document
from lsp_server.settings import Settings

URI = "file:///w/a.py"
TEXT = "def f(x):\n    return x + 1\n"
RANGE = {"start": {"line": 1, "character": 4}, "end": {"line": 1, "character": 16}}


class FakeBridge:
    """Runs the job's work with a stand-in engine result instead of a model."""

    def __init__(self, outcome, on_run=None) -> None:
        self.outcome, self.on_run, self.keys = outcome, on_run, []
        self.ready, self.error, self.engine = True, None, object()

    async def run_job(self, key, work):
        self.keys.append(key)
        if self.on_run is not None:
            self.on_run()
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def fake_server(outcome=None, capabilities: types.ClientCapabilities | None = None, on_run=None):
    shown, applied = [], []
    doc = Document(URI, "python", 3, TEXT)

    async def apply(params):
        applied.append(params)
        return types.ApplyWorkspaceEditResult(applied=True)

    ls = SimpleNamespace(documents={URI: doc}, bridge=FakeBridge(outcome, on_run), settings=Settings(),
                         client_capabilities=capabilities or types.ClientCapabilities(),
                         show=lambda kind, message: shown.append((kind, message)), workspace_apply_edit_async=apply)
    return ls, doc, shown, applied


@pytest.mark.parametrize("command, args, message", [
    (edits.REPAIR, (), "takes one argument"),
    (edits.REPAIR, ({"uri": 3, "range": RANGE},), "string 'uri'"),
    (edits.REPAIR, ({"uri": URI, "range": {"start": {"line": -1, "character": 0}, "end": RANGE["end"]}},),
     "range.start"),
    (edits.REWRITE, ({"uri": URI, "range": RANGE},), "needs an 'instruction'"),
    (edits.REWRITE, ({"uri": URI, "range": RANGE, "instruction": "  "},), "needs an 'instruction'"),
    (edits.REGENERATE, ({"uri": URI, "range": RANGE, "alternative": 9},), "'alternative'"),
    (edits.REPAIR, ({"uri": URI, "range": RANGE, "strict": "no"},), "'strict'"),
])
def test_bad_arguments_are_explained(command, args, message):
    with pytest.raises(edits.EditError, match=message):
        edits.parse_args(command, args)


def test_reversed_range_is_normalized():
    backwards = {"start": RANGE["end"], "end": RANGE["start"]}
    parsed = edits.parse_args(edits.REWRITE, ({"uri": URI, "range": backwards, "instruction": "add 2"},))
    assert (parsed.range.start.line, parsed.range.start.character) == (1, 4) and parsed.instruction == "add 2"


def test_strings_and_comments_are_frozen_for_repair():
    from lsp_server.languages import language_for

    text = 'def f(x):\n    y = "héllo"  # say it\n    return y\n'
    doc = Document(URI, "python", 1, text, language=language_for("python", URI))
    start = text.index("    y")
    ranges = edits.prose_ranges(doc, start, text.index("    return"))
    selection = text[start:]
    assert [selection[a:b] for a, b in ranges] == ['"héllo"', "# say it"]


def test_plain_workspace_edit_without_annotation_support():
    ls, doc, _, _ = fake_server()
    sel = edits.select(ls, edits.parse_args(edits.REPAIR, ({"uri": URI, "range": RANGE},)))
    assert sel.text == "return x + 1" and sel.prefix == "def f(x):\n    " and sel.suffix == "\n"
    edit = edits.workspace_edit(ls, sel, [Edit(9, 10, "-")], "stipple: repair")
    assert edit.document_changes is None
    [text_edit] = edit.changes[URI]
    assert (text_edit.range.start.line, text_edit.range.start.character, text_edit.range.end.character) == (1, 13, 14)
    assert text_edit.new_text == "-"


def test_annotated_edit_needs_confirmation_when_the_client_supports_it():
    caps = types.ClientCapabilities(workspace=types.WorkspaceClientCapabilities(
        workspace_edit=types.WorkspaceEditClientCapabilities(
            document_changes=True, change_annotation_support=types.ChangeAnnotationsSupportOptions())))
    ls, doc, _, _ = fake_server(capabilities=caps)
    sel = edits.select(ls, edits.parse_args(edits.REPAIR, ({"uri": URI, "range": RANGE},)))
    edit = edits.workspace_edit(ls, sel, [Edit(0, 6, "yield")], "stipple: repair")
    [change] = edit.document_changes
    assert change.text_document.version == 3 and change.edits[0].annotation_id == edits.ANNOTATION
    assert edit.change_annotations[edits.ANNOTATION].needs_confirmation is True


def test_execute_applies_one_edit_and_reports_the_text():
    ls, _, shown, applied = fake_server(outcome=[[Edit(9, 10, "-")], [Edit(0, 6, "yield")]])
    result = asyncio.run(edits.execute(ls, edits.REGENERATE, ({"uri": URI, "range": RANGE, "alternative": 1},)))
    assert result["applied"] and result["text"] == "yield x + 1"
    assert result["alternatives"] == ["return x - 1", "yield x + 1"]
    assert len(applied) == 1 and applied[0].edit.changes[URI][0].new_text == "yield"
    assert ls.bridge.keys == [f"{URI}#edit"] and not shown


@pytest.mark.parametrize("outcome, on_run, message", [
    (None, None, "cancelled"),
    ([], None, "nothing to change"),
    (edits.EditError("the selection is 900 tokens; Select less code."), None, "Select less"),
    ([[Edit(0, 1, "y")]], "change", "document changed"),
])
def test_execute_explains_why_nothing_was_applied(outcome, on_run, message):
    ls, doc, shown, applied = fake_server(outcome)
    if on_run == "change":
        ls.bridge.on_run = lambda: doc.replace(0, 0, "# new\n", doc.version + 1)
    result = asyncio.run(edits.execute(ls, edits.REPAIR, ({"uri": URI, "range": RANGE},)))
    assert result["applied"] is False and message in result["message"]
    assert not applied and message in shown[-1][1]


def test_execute_refuses_an_unknown_document_and_an_empty_selection():
    ls, _, shown, _ = fake_server([[Edit(0, 1, "y")]])
    gone = asyncio.run(edits.execute(ls, edits.REPAIR, ({"uri": "file:///other.py", "range": RANGE},)))
    empty = {"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 4}}
    blank = asyncio.run(edits.execute(ls, edits.REPAIR, ({"uri": URI, "range": empty},)))
    assert "not open" in gone["message"] and "select the code" in blank["message"]


def code_action_params(only=None, end=(1, 16)) -> types.CodeActionParams:
    return types.CodeActionParams(types.TextDocumentIdentifier(URI),
                                  types.Range(types.Position(1, 4), types.Position(*end)),
                                  types.CodeActionContext(diagnostics=[], only=only))


def test_code_actions_are_lazy_when_the_client_resolves_edits():
    caps = types.ClientCapabilities(text_document=types.TextDocumentClientCapabilities(
        code_action=types.CodeActionClientCapabilities(
            resolve_support=types.ClientCodeActionResolveOptions(properties=["edit"]))))
    ls, _, _, _ = fake_server([[Edit(9, 10, "-")]], capabilities=caps)
    actions = edits.code_actions(ls, code_action_params())
    assert [a.data["command"] for a in actions] == [edits.REPAIR, edits.REGENERATE, edits.REGENERATE]
    assert all(a.kind == types.CodeActionKind.RefactorRewrite and a.edit is None and a.command is None
               for a in actions)
    resolved = asyncio.run(edits.resolve(ls, actions[0]))
    assert resolved.edit.changes[URI][0].new_text == "-"


def test_code_actions_carry_the_command_otherwise_and_respect_only():
    ls, _, _, _ = fake_server()
    actions = edits.code_actions(ls, code_action_params())
    assert actions[0].command.command == edits.REPAIR and actions[0].command.arguments[0]["uri"] == URI
    assert edits.code_actions(ls, code_action_params(only=[types.CodeActionKind.QuickFix])) == []
    assert edits.code_actions(ls, code_action_params(only=[types.CodeActionKind.Refactor])) != []
    assert edits.code_actions(ls, code_action_params(end=(1, 4))) == []
