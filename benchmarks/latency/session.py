"""One simulated editing session per hole: open, type the last characters before the cursor at a set
speed with an inline completion request after each keystroke (cancelling the one in flight, as VS Code
does), wait for the last answer, close. Every request becomes a sample.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass, field

from lsprotocol import types

from benchmarks.latency.client import BenchClient
from benchmarks.latency.workloads import Hole, lsp_position


@dataclass
class Sample:
    """One inline completion request, as the client saw it and as the server's spans describe it."""

    config: str
    """The configuration (server) it went to."""
    source: str
    """The hole (see workloads.Hole.source)."""
    language: str
    """The document's languageId."""
    round: int
    """Round number (warm-up rounds are not kept)."""
    keystroke: int
    """Which keystroke triggered it (0: on open)."""
    final: bool
    """The request after the last keystroke: the one whose answer the user sees."""
    latency_ms: float
    """End to end: request sent -> response read, measured by the client."""
    client_cancelled: bool = False
    """The client sent $/cancelRequest for it (a newer keystroke came first)."""
    outcome: str = "unknown"
    """The server's outcome (lsp_server.spans), "unknown" when no spans came."""
    mode: str | None = None
    reason: str = ""
    items: int = 0
    """Inline completion items in the answer."""
    text_chars: int = 0
    """Characters offered."""
    stages_ms: dict[str, float] = field(default_factory=dict)
    steps_ms: list[float] = field(default_factory=list)
    server_ms: float = 0.0
    """The server's own handling time (handler entry to answer)."""
    span_tokens: int = 0
    steps: int = 0
    steps_done: int = 0
    generated_tokens: int = 0

    @property
    def engine_ran(self) -> bool:
        return self.outcome in ("offered", "empty")

    def as_dict(self) -> dict:
        return asdict(self)


def position(text: str, offset: int, encoding: str) -> types.Position:
    return types.Position(*lsp_position(text, offset, encoding))


async def run_hole(client: BenchClient, hole: Hole, round_number: int, chars_per_s: float,
                   trigger: types.InlineCompletionTriggerKind = types.InlineCompletionTriggerKind.Automatic
                   ) -> list[Sample]:
    uri, enc = hole.uri, client.encoding
    start = hole.offset - hole.typed
    text = hole.text[:start] + hole.text[hole.offset :]
    version = 1
    client.notify(types.TEXT_DOCUMENT_DID_OPEN, types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri=uri, language_id=hole.language_id, version=version, text=text)))
    pending: list[tuple[int, str, asyncio.Future, float]] = []
    cancelled: set[str] = set()
    for keystroke in range(hole.typed + 1):
        if keystroke:
            await asyncio.sleep(1 / chars_per_s)
            for _, msg_id, future, _ in pending:  # VS Code cancels the request in flight on a keystroke
                if not future.done() and msg_id not in cancelled:
                    client.cancel(msg_id)
                    cancelled.add(msg_id)
            at = start + keystroke - 1
            char, version = hole.text[at], version + 1
            where = position(text, at, enc)
            client.notify(types.TEXT_DOCUMENT_DID_CHANGE, types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[types.TextDocumentContentChangePartial(range=types.Range(where, where), text=char)]))
            text = text[:at] + char + text[at:]
        cursor = position(text, start + keystroke, enc)
        msg_id, future = client.request(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri), position=cursor,
            context=types.InlineCompletionContext(trigger_kind=trigger)))
        pending.append((keystroke, msg_id, future, client.sent_at.pop(msg_id)))
    samples = []
    for keystroke, msg_id, future, sent in pending:
        items: list = []
        try:
            result = await asyncio.wait_for(future, 300)
            items = list(getattr(result, "items", None) or (result if isinstance(result, list) else []))
        except asyncio.TimeoutError:
            raise
        except Exception:  # a cancelled request is answered with an error (RequestCancelled)
            pass
        samples.append(to_sample(client, hole, round_number, keystroke, keystroke == hole.typed, msg_id,
                                 msg_id in cancelled, items, sent))
    client.notify(types.TEXT_DOCUMENT_DID_CLOSE, types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)))
    return samples


def to_sample(client: BenchClient, hole: Hole, round_number: int, keystroke: int, final: bool, msg_id: str,
              client_cancelled: bool, items: list, sent: float) -> Sample:
    done = client.answered.pop(msg_id, time.perf_counter())
    spans = client.spans.pop(msg_id, {})
    text = "".join(str(getattr(item, "insert_text", "")) for item in items)
    return Sample(client.name, hole.source, hole.language_id, round_number, keystroke, final,
                  round((done - sent) * 1000, 3), client_cancelled, spans.get("outcome", "unknown"),
                  spans.get("mode"), spans.get("reason", ""), len(items), len(text), spans.get("stages", {}),
                  spans.get("stepsMs", []), spans.get("totalMs", 0.0), spans.get("spanTokens", 0),
                  spans.get("steps", 0), spans.get("stepsDone", 0), spans.get("generatedTokens", 0))
