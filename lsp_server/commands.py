"""Accept / reject feedback, the stipple.status command, and stipple.workspaceContext (what workspace
context a cursor gets: a debugging aid). Counters stay in this process; nothing is sent anywhere.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

log = logging.getLogger("stipple.commands")

ACCEPT, REJECT, STATUS = "stipple.accept", "stipple.reject", "stipple.status"
WORKSPACE_CONTEXT = "stipple.workspaceContext"


@dataclass
class Counters:
    """Local counts since the server started."""

    generated: int = 0
    """Engine results for the current document version, before post-processing."""
    offered: int = 0
    """Completions returned to the editor (post-processing left something to show)."""
    accepted: int = 0
    """Completions the user took (the item's command, or stipple.accept)."""
    rejected: int = 0
    """Completions the editor reported dismissed (stipple.reject)."""
    skipped: int = 0
    """Requests the cursor context declined (string, comment, code right of the cursor, ...)."""
    cancelled: int = 0
    """Requests stopped by a newer request for the same document or by $/cancelRequest."""
    stale: int = 0
    """Results dropped because the document changed while the model ran."""

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


def register(server) -> None:
    """Register the feedback and status commands, and the edit-selection commands, on a StippleServer."""
    from lsp_server import edits

    edits.register(server)

    @server.command(ACCEPT)
    def accept(ls, *args: object) -> None:
        ls.counters.accepted += 1
        log.info("accepted %s", args[0] if args else "?")

    @server.command(REJECT)
    def reject(ls, *args: object) -> None:
        ls.counters.rejected += 1
        log.info("rejected %s", args[0] if args else "?")

    @server.command(STATUS)
    def status(ls, *args: object) -> dict:
        model = ls.bridge.engine.config.model_dir if ls.bridge.ready else None
        return {"ready": ls.bridge.ready, "model": str(model) if model else None, "error": ls.bridge.error,
                "fault": ls.bridge.fault, "counters": ls.counters.as_dict(), "settings": dataclasses.asdict(ls.settings),
                "queue": {"waiting": ls.bridge.scheduler.num_waiting, "inFlight": len(ls.bridge.in_flight),
                          "debouncing": len(ls.waking), "documents": len(ls.documents)}}

    @server.command(WORKSPACE_CONTEXT)
    def workspace_context(ls, *args: object) -> dict:
        """Arguments: uri, {"line", "character"} (the negotiated encoding). Retrieval only, no model."""
        uri, position = args[0], args[1] if len(args) > 1 else {}
        doc = ls.documents.get(uri)
        if doc is None or not isinstance(position, dict):
            return {"error": f"unknown document {uri}" if doc is None else "expected a position"}
        retrieved = ls.workspace_context(doc, doc.offset_at(int(position.get("line", 0)),
                                                            int(position.get("character", 0))))
        return {"indexedFiles": len(ls.workspace_index.index), "ready": ls.workspace_index.ready,
                "block": retrieved.block, "files": retrieved.files, "names": retrieved.names}
