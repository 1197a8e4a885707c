"""StippleProtocol: pygls's protocol, except that a request whose params cannot be read gets a
JSON-RPC InvalidParams error response instead of silence (pygls drops it, and the client waits forever).
"""

from __future__ import annotations

import logging
from typing import Any

from pygls.exceptions import JsonRpcException
from pygls.protocol import LanguageServerProtocol

log = logging.getLogger("stipple.protocol")


class StippleProtocol(LanguageServerProtocol):
    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if "id" in data and "method" in data and isinstance(data["id"], (int, str)):
                log.warning("malformed %s request %r: answered with %s", data["method"], data["id"], exc)
                self._send_response(data["id"], error=exc.to_response_error())
            raise
