"""StippleProtocol: pygls's protocol, except that a request whose params cannot be read gets a
JSON-RPC InvalidParams error response instead of silence (pygls drops it, and the client waits forever);
and, under `stipple serve --record`, every message in and out goes to the trace recorder.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pygls.exceptions import JsonRpcException
from pygls.protocol import LanguageServerProtocol

log = logging.getLogger("stipple.protocol")


class StippleProtocol(LanguageServerProtocol):
    recorder: Any = None
    """A lsp_server.recorder.TraceRecorder under `stipple serve --record`, else None."""

    def structure_message(self, data: dict[str, Any]) -> Any:
        if self.recorder is not None and "jsonrpc" in data:  # the whole message (nested dicts pass first)
            self.recorder.record("in", data)
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if "id" in data and "method" in data and isinstance(data["id"], (int, str)):
                log.warning("malformed %s request %r: answered with %s", data["method"], data["id"], exc)
                self._send_response(data["id"], error=exc.to_response_error())
            raise

    def _send_data(self, data: Any) -> None:
        if self.recorder is not None and data:
            self.recorder.record("out", json.loads(json.dumps(data, default=self._serialize_message)))
        super()._send_data(data)
