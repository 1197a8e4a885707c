"""StippleProtocol: pygls's protocol, except that every request with an integer or string id is
answered: one whose params cannot be read gets InvalidParams, one with a wrong or missing "jsonrpc"
and one that arrives after shutdown get InvalidRequest (pygls drops all three, and the client waits
forever); and, under `stipple serve --record`, every message in and out goes to the trace recorder.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pygls.exceptions import JsonRpcException, JsonRpcInvalidRequest
from pygls.protocol import LanguageServerProtocol

log = logging.getLogger("stipple.protocol")


MAX_MESSAGE_BYTES = 256 * 2**20  # far above a 10 MB document escaped as JSON; below what fits in memory
MAX_HEADER_LINE = 64 * 2**10


class BoundedStdin:
    """stdin for pygls's reader, bounded: a header line is read 64 KiB at a time, and a frame that
    declares more than MAX_MESSAGE_BYTES is not allocated (pygls would ask for all of it at once, and a
    MemoryError ends the server). Its body is then read as header lines, which skips it up to the next
    Content-Length header: the stream gets back in step without the server exiting."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def readline(self) -> bytes:
        return self.stream.readline(MAX_HEADER_LINE)

    def read(self, size: int) -> bytes:
        if size > MAX_MESSAGE_BYTES:
            log.error("dropping a frame that declares %d bytes (limit %d)", size, MAX_MESSAGE_BYTES)
            return b"null"  # a body pygls parses and hands on; handle_message drops it
        return self.stream.read(size)


class StippleProtocol(LanguageServerProtocol):
    recorder: Any = None
    """A lsp_server.recorder.TraceRecorder under `stipple serve --record`, else None."""

    def structure_message(self, data: dict[str, Any]) -> Any:
        if self.recorder is not None and "jsonrpc" in data:  # the whole message (nested dicts pass first)
            self.recorder.record("in", data)
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if "method" in data and answerable(data.get("id")):
                log.warning("malformed %s request %r: answered with %s", data["method"], data["id"], exc)
                self._send_response(data["id"], error=exc.to_response_error())
            raise

    def handle_message(self, message: Any) -> None:
        if message is None:  # a dropped frame (BoundedStdin) or a body of JSON null
            return
        fields = message if isinstance(message, dict) else \
            {name: getattr(message, name, None) for name in ("id", "method", "jsonrpc")}
        msg_id, method = fields.get("id"), fields.get("method")
        if answerable(msg_id) and isinstance(method, str) and method != "exit":
            problem = "no JSON-RPC 2.0 envelope" if fields.get("jsonrpc") != self.VERSION else \
                "the server is shutting down" if self._shutdown else None
            if problem:
                log.warning("%s request %r: %s, answered with InvalidRequest", method, msg_id, problem)
                self._send_response(msg_id, error=JsonRpcInvalidRequest(problem).to_response_error())
                return
        super().handle_message(message)

    def _send_data(self, data: Any) -> None:
        if self.recorder is not None and data:
            self.recorder.record("out", json.loads(json.dumps(data, default=self._serialize_message)))
        super()._send_data(data)


def answerable(msg_id: Any) -> bool:
    """A JSON-RPC id the server can echo: an integer or a string (not a bool, null, float or object)."""
    return isinstance(msg_id, (int, str)) and not isinstance(msg_id, bool)
