"""TraceRecorder: `stipple serve --record TRACE.msgpack` writes every LSP message, both ways, with its time.

The file is a stream of msgpack maps: first a header {"stippleTrace": 1, "started": ISO time,
"argv": [...]}, then one {"t": seconds since start, "dir": "in" | "out", "msg": the JSON-RPC message}
per message. `stipple bench replay` re-drives a server from the "in" messages with the same timing.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from pathlib import Path
from typing import Any

import msgpack

log = logging.getLogger("stipple.recorder")
TRACE_VERSION = 1


class TraceRecorder:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "wb")
        self._packer = msgpack.Packer(use_bin_type=True)
        self._lock = threading.Lock()
        self._start = time.perf_counter()
        self._write({"stippleTrace": TRACE_VERSION, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                     "argv": sys.argv})

    def record(self, direction: str, message: Any) -> None:
        """Append one message; never raises (a full disk must not take the server down)."""
        try:
            if not isinstance(message, dict):
                message = json.loads(json.dumps(message, default=_plain))
            self._write({"t": round(time.perf_counter() - self._start, 6), "dir": direction, "msg": message})
        except Exception as exc:
            log.warning("cannot record a message: %s", exc)

    def _write(self, item: dict) -> None:
        with self._lock:
            self._file.write(self._packer.pack(item))
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


def _plain(value: Any) -> Any:
    raise TypeError(f"not JSON: {type(value).__name__}")
