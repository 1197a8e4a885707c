"""The LSP handlers: each fetches state from the StippleServer, calls one step, wraps the result.

An exception in a completion handler is logged and answered with an empty result, never a dead server.
"""

from __future__ import annotations

import logging

from lsprotocol import types

from lsp_server import commands
from lsp_server.server import StippleServer
from lsp_server.spans import RequestSpans

log = logging.getLogger("stipple.handlers")


def create_server() -> StippleServer:
    server = StippleServer()
    register(server)
    commands.register(server)
    return server


def register(server: StippleServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: StippleServer, params: types.InitializeParams) -> None:
        ls.apply_settings(params.initialization_options)

    @server.feature(types.INITIALIZED)
    def initialized(ls: StippleServer, params: types.InitializedParams) -> None:
        ls.start_loading()
        ls.start_indexing()

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def did_change_workspace_folders(ls: StippleServer, params: types.DidChangeWorkspaceFoldersParams) -> None:
        ls.start_indexing()  # pygls has updated ls.workspace.folders

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: StippleServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.open_document(params.text_document)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: StippleServer, params: types.DidChangeTextDocumentParams) -> None:
        doc = ls.documents.get(params.text_document.uri)
        if doc is None:
            log.warning("didChange for unknown document %s", params.text_document.uri)
            return
        ls.bridge.cancel(doc.uri)  # whatever is in flight is about an older version
        for change in params.content_changes:
            doc.apply_change(change, params.text_document.version)
        last = params.content_changes[-1] if params.content_changes else None
        if getattr(last, "range", None) is not None:  # remembered as a recent edit for other files' cursors
            ls.workspace_index.edited(doc.uri, last.range.start.line)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: StippleServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.close_document(params.text_document.uri)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: StippleServer, params: types.DidChangeConfigurationParams) -> None:
        data = params.settings
        if not data and getattr(getattr(ls.client_capabilities, "workspace", None), "configuration", False):
            items = [types.ConfigurationItem(section="stipple")]
            data = (await ls.workspace_configuration_async(types.ConfigurationParams(items=items)))[0]
        if ls.apply_settings(data):
            ls.start_loading()

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(ls: StippleServer, params: types.InlineCompletionParams
                                ) -> types.InlineCompletionList:
        suggestion = await safely(ls, params.text_document.uri, params.position)
        if suggestion is None:
            return types.InlineCompletionList(items=[])
        feedback = types.Command(title="stipple: accepted", command=commands.ACCEPT, arguments=[suggestion.request_id])
        return types.InlineCompletionList(items=[types.InlineCompletionItem(
            insert_text=suggestion.text, range=suggestion.range, command=feedback)])

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(resolve_provider=False))
    async def completion(ls: StippleServer, params: types.CompletionParams) -> types.CompletionList:
        suggestion = await safely(ls, params.text_document.uri, params.position)
        if suggestion is None:
            return types.CompletionList(is_incomplete=True, items=[])
        first_line = suggestion.text.strip().splitlines()[0]
        return types.CompletionList(is_incomplete=True, items=[types.CompletionItem(
            label=first_line[:80], kind=types.CompletionItemKind.Text, detail="stipple",
            filter_text="", insert_text_format=types.InsertTextFormat.PlainText,
            text_edit=types.TextEdit(suggestion.range, suggestion.text),
            command=types.Command(title="stipple: accepted", command=commands.ACCEPT, arguments=[suggestion.request_id]))])

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: StippleServer, params: None) -> None:
        ls.bridge.shutdown()
        ls.workspace_index.stop()


async def safely(ls: StippleServer, uri: str, position: types.Position):
    """ls.suggest, with any failure logged and turned into "no suggestion"; its spans published."""
    spans = RequestSpans(uri, lsp_id=ls.protocol.msg_id)
    try:
        return await ls.suggest(uri, position, spans)
    except ValueError as exc:  # a position the document cannot have
        spans.outcome = "error"
        log.warning("bad position %s:%s: %s", uri, position, exc)
    except Exception:
        spans.outcome = "error"
        log.exception("completion failed at %s:%s", uri, position)
        ls.report_fault()
    finally:
        ls.publish_spans(spans)
    return None
