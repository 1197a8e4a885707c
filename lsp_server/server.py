"""StippleServer: the language server's state (settings, documents, engine bridge, counters) and the
steps every completion handler shares. The handlers themselves live in lsp_server.handlers.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import uuid
from dataclasses import dataclass
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from lsp_server import span, suggest, typed_through
from lsp_server.bridge import Completion, EngineBridge
from lsp_server.commands import Counters
from lsp_server.documents import Document
from lsp_server.languages import language_for
from lsp_server.protocol import BoundedStdin, StippleProtocol
from lsp_server.remote import RemoteBridge
from lsp_server.settings import WORKSPACE_FIELDS, Settings
from lsp_server.spans import METHOD as SPANS_METHOD
from lsp_server.spans import RequestSpans
from lsp_server.workspace.service import WorkspaceService, uri_path

log = logging.getLogger("stipple.server")
workspace_log = logging.getLogger("stipple.workspace")
completion_log = logging.getLogger("stipple.completion")
VERSION = "0.1.0"
PROGRESS_MIN_FILES = 500  # a first indexing of this many files reports $/progress


@dataclass
class Suggestion:
    """A post-processed completion for one cursor."""

    text: str
    """What to insert at the cursor, in the file's line ends and indentation."""
    range: types.Range
    """Where to insert it (an empty range at the cursor, in the negotiated encoding)."""
    request_id: str
    """The engine's request id; the accept/reject commands carry it."""


class StippleServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("stipple", VERSION, protocol_cls=StippleProtocol)
        self.settings = Settings()
        self.documents: dict[str, Document] = {}
        self.bridge = EngineBridge()
        self.counters = Counters()
        self.tickets: dict[str, int] = {}  # uri -> latest request number, for debounce
        self.waking: dict[str, asyncio.Event] = {}  # uri -> the debounce wait a newer request ends
        self.shown: dict[str, typed_through.Shown] = {}  # uri -> last suggestion offered
        self.loading: asyncio.Task | None = None
        self.workspace_index = WorkspaceService()  # other files' definitions (lsp_server/workspace/)
        self.indexing: asyncio.Task | None = None
        self.fault_shown: str | None = None  # the engine fault last shown to the user
        self.emit_spans = False  # `stipple serve --spans`: send stipple/spans after each completion request

    def start_io(self, stdin: Any = None, stdout: Any = None) -> None:
        """stdio, with frames bounded in size (lsp_server.protocol.BoundedStdin)."""
        super().start_io(BoundedStdin(stdin or sys.stdin.buffer), stdout)

    def report_server_error(self, error: Exception, source: object) -> None:
        """Log, don't pop up: malformed input is answered on the wire, not in the user's face."""
        log.error("server error (%s): %s", getattr(source, "__name__", source), error)

    @property
    def encoding(self) -> str:
        return str(getattr(self.workspace.position_encoding, "value", self.workspace.position_encoding))

    def apply_settings(self, data: object) -> bool:
        """Merge data into the settings; True when the engine must be reloaded. The workspace is
        re-indexed when its settings change after it started."""
        new, problems = self.settings.updated(data)
        for problem in problems:
            self.show(types.MessageType.Warning, f"stipple: ignoring setting {problem}")
        reindex = self.indexing is not None and any(getattr(new, name) != getattr(self.settings, name)
                                                    for name in WORKSPACE_FIELDS)
        reload, self.settings = new.needs_reload(self.settings), new
        if reindex:
            self.start_indexing()
        logging.getLogger("stipple").setLevel(self.settings.log_level.upper())
        return reload

    def report_fault(self) -> None:
        """Tell the editor about the engine's failure once, not once per keystroke (stipple.status keeps it)."""
        fault = self.bridge.fault
        if fault and fault != self.fault_shown:
            self.show(types.MessageType.Error, f"stipple: {fault}")
        self.fault_shown = fault

    def show(self, kind: types.MessageType, message: str) -> None:
        log.log(logging.ERROR if kind == types.MessageType.Error else logging.WARNING, "%s", message)
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def open_document(self, item: types.TextDocumentItem) -> None:
        self.documents[item.uri] = Document(item.uri, item.language_id, item.version, item.text, self.encoding,
                                            language_for(item.language_id, item.uri))

    def use_backend(self) -> None:
        """The bridge the `backend` setting names: the engine in-process, or a deployment (lsp_server/remote.py)."""
        wanted = RemoteBridge if self.settings.backend == "remote" else EngineBridge
        if not isinstance(self.bridge, wanted):
            self.bridge.shutdown()
            self.bridge = wanted()

    def close_document(self, uri: str) -> None:
        """Forget everything kept for uri (a waiting request for it ends unanswered by the model)."""
        self.bridge.forget(uri)
        for table in (self.documents, self.shown, self.tickets):
            table.pop(uri, None)
        if (waiting := self.waking.pop(uri, None)) is not None:
            waiting.set()
        self.workspace_index.forget(uri)

    async def load_model(self) -> None:
        """Load the engine with work-done progress; on failure tell the user why, and stay up."""
        self.use_backend()
        remote = self.settings.backend == "remote"
        name = self.settings.remote_url if remote else self.settings.model or "the embedded default model"
        token = await self.begin_progress("load", f"loading {name}")
        await self.bridge.load(self.settings)
        if token is not None:
            self.work_done_progress.end(token, types.WorkDoneProgressEnd(
                message="model ready" if self.bridge.ready else "model failed to load"))
        if self.bridge.error:
            self.show(types.MessageType.Error, f"stipple: cannot load {name}: {self.bridge.error}. "
                      "Completions are off until the " + ("'remoteUrl' setting names a reachable deployment."
                                                          if remote else "'model' setting names a valid model directory."))
        else:
            log.info("model ready: %s", self.bridge.engine.config.model_dir)

    def start_loading(self) -> None:
        if self.loading is not None and not self.loading.done():
            self.loading.cancel()
        self.loading = asyncio.get_running_loop().create_task(self.load_model())

    def workspace_roots(self) -> list[str]:
        folders = [uri_path(folder.uri) for folder in self.workspace.folders.values()]
        return [path for path in folders if path] or ([self.workspace.root_path] if self.workspace.root_path else [])

    def start_indexing(self) -> None:
        """(Re)index the workspace folders in the background, then watch them (workspace_context on)."""
        if self.indexing is not None and not self.indexing.done():
            self.indexing.cancel()
        self.workspace_index.configure([], ())
        if self.settings.workspace_context and self.workspace_roots():
            self.workspace_index.configure(self.workspace_roots(), self.settings.workspace_exclude)
        self.indexing = asyncio.get_running_loop().create_task(self.index_workspace())

    async def index_workspace(self) -> None:
        """The first indexing off the event loop, with work-done progress for a large workspace."""
        service = self.workspace_index
        if not service.index.rules:
            return
        paths = await asyncio.to_thread(service.index.list_files)
        large = len(paths) >= PROGRESS_MIN_FILES
        token = await self.begin_progress("index", "indexing the workspace") if large else None
        loop = asyncio.get_running_loop()

        def report(done: int, total: int) -> None:
            if token is not None:
                loop.call_soon_threadsafe(self.work_done_progress.report, token, types.WorkDoneProgressReport(
                    message=f"{done}/{total} files", percentage=100 * done // max(total, 1)))

        try:
            count = await asyncio.to_thread(service.scan, report, paths)
        except Exception:  # completions go on with the current file only
            workspace_log.exception("workspace indexing failed")
            count = 0
        if token is not None:
            self.work_done_progress.end(token, types.WorkDoneProgressEnd(message=f"{count} files indexed"))

    async def begin_progress(self, kind: str, message: str) -> str | None:
        """A work-done progress token ("stipple-KIND-..."), begun; None when the client takes no progress."""
        if not getattr(getattr(self.client_capabilities, "window", None), "work_done_progress", False):
            return None
        token = f"stipple-{kind}-{uuid.uuid4().hex}"
        try:
            await self.work_done_progress.create_async(token)
            self.work_done_progress.begin(token, types.WorkDoneProgressBegin(
                title="stipple", message=message, cancellable=False))
        except Exception as exc:
            log.warning("no work-done progress: %s", exc)
            return None
        return token

    def workspace_context(self, doc: Document, offset: int):
        """Other files' definitions for the cursor (lsp_server.workspace.retrieval.Retrieved)."""
        settings = self.settings
        budget = settings.workspace_budget
        return self.workspace_index.context_for(doc, offset, budget, self.documents)

    async def suggest(self, uri: str, position: types.Position, spans: RequestSpans | None = None
                      ) -> Suggestion | None:
        """The completion at a cursor, or None (skipped, not ready, cancelled, or stale).

        Each stage's duration goes into spans (see lsp_server.spans), with how the request ended."""
        spans = spans if spans is not None else RequestSpans(uri)
        doc = self.documents.get(uri)
        if doc is None or not self.bridge.ready or doc.language is None \
                or not self.settings.enabled(doc.language.name):
            spans.outcome = "not_ready"
            return None
        version, settings = doc.version, self.settings
        with spans.stage("context"):
            offset = doc.offset_at(position.line, position.character)
            shown = self.shown.get(uri)
            rest = typed_through.remaining(shown, doc.text, offset)
        if rest is not None:  # the user typed what the ghost text showed: the rest, no model
            self.bridge.cancel(uri)
            self.counters.offered += 1
            spans.outcome, spans.request_id = "typed_through", shown.request_id
            cursor = types.Position(*doc.position_at(offset))
            return Suggestion(rest, types.Range(cursor, cursor), shown.request_id)
        self.shown.pop(uri, None)
        with spans.stage("context"):
            ctx = suggest.cursor_context(doc, offset, settings)
        spans.mode, spans.reason = ctx.mode, ctx.reason
        if ctx.skip:
            self.counters.skipped += 1
            spans.outcome = "skipped"
            completion_log.debug("%s:%d:%d skip: %s", uri, position.line, position.character, ctx.reason)
            return None
        with spans.stage("debounce"):
            fresh = await self.debounced(uri, settings.debounce_ms)
        if not fresh or not self.bridge.ready:
            self.counters.cancelled += 1
            spans.outcome = "debounced"
            return None
        with spans.stage("workspace"):
            retrieved = self.workspace_context(doc, offset)
        with spans.stage("plan"):
            plan = span.build_plan(ctx, settings, self.bridge.count_tokens, self.bridge.engine.max_positions,
                                   retrieved.block)
        spans.workspace_chars = plan.preamble_chars
        spans.workspace_files = retrieved.files if plan.preamble_chars else []
        spans.span_tokens, spans.steps = plan.span_tokens, plan.steps
        spans.prefix_chars, spans.suffix_chars = len(plan.prefix), len(plan.suffix)
        result = await self.bridge.complete(uri, plan)
        if result is not None:
            record_engine_spans(spans, result, self.bridge.engine)
        if result is None or self.documents.get(uri) is not doc or doc.version != version:
            self.counters.cancelled += result is None
            self.counters.stale += result is not None
            spans.outcome = "cancelled" if result is None else "stale"
            return None
        self.counters.generated += 1
        with spans.stage("postprocess"):
            verdict = suggest.verdict(result.text, result.ended_line, ctx)
        text = verdict.text
        if verdict.outcome == "skipped":  # the model ended the line at the cursor
            self.counters.skipped += 1
            spans.outcome, spans.reason = "skipped", verdict.reason
            completion_log.info("%s %s:%d:%d skip: %s", result.request_id, uri, position.line,
                                position.character, verdict.reason)
            return None
        completion_log.info("%s %s:%d:%d %s (%s) %d steps %.0f ms -> %r", result.request_id, uri, position.line,
                            position.character, ctx.mode, ctx.reason, result.steps_done,
                            sum(result.timings_ms.values()), text)
        if text is None:
            spans.outcome = "empty"
            return None
        self.counters.offered += 1
        spans.outcome = "offered"
        self.shown[uri] = typed_through.Shown(doc.text[:offset], doc.text[offset:], text, result.request_id)
        cursor = types.Position(*doc.position_at(offset))
        return Suggestion(text, types.Range(cursor, cursor), result.request_id)

    def publish_spans(self, spans: RequestSpans) -> None:
        """Send spans to the client (only when started with --spans: editors have no use for them)."""
        if self.emit_spans:
            self.protocol.notify(SPANS_METHOD, spans.as_params())

    async def debounced(self, uri: str, delay_ms: int) -> bool:
        """Wait delay_ms; False when a newer request for uri arrived meanwhile (cancel-previous). A
        superseded wait ends at once, so a burst of keystrokes is answered as it goes, not a delay later."""
        ticket = self.tickets[uri] = self.tickets.get(uri, 0) + 1
        self.bridge.cancel(uri)
        if (previous := self.waking.pop(uri, None)) is not None:
            previous.set()
        if delay_ms:
            self.waking[uri] = woken = asyncio.Event()
            try:
                await asyncio.wait_for(woken.wait(), delay_ms / 1000)
            except TimeoutError:
                pass
            if self.waking.get(uri) is woken:
                del self.waking[uri]
        return self.tickets.get(uri) == ticket


def record_engine_spans(spans: RequestSpans, result: Completion, engine: object) -> None:
    """The bridge's and engine's timings, in the spans' stage names (prefill = the first step)."""
    spans.request_id, spans.steps_done, spans.steps_ms = result.request_id, result.steps_done, result.steps_ms
    spans.reused_tokens, spans.batch_size = result.reused_tokens, result.batch_size
    spans.add("queue", result.queue_ms)
    for name in ("tokenize", "detokenize"):
        spans.add(name, result.timings_ms.get(name, 0.0))
    if result.steps_ms:
        spans.add("prefill", result.steps_ms[0])
        spans.add("denoise", sum(result.steps_ms[1:]))
    pad = getattr(getattr(getattr(engine, "tokenizer", None), "special", None), "pad", None)
    spans.generated_tokens = sum(1 for token in result.span_ids if token != pad)
