"""StepHookEngine: the diffusion Engine, telling a listener what each denoising step committed.

A streamed completion (`"stream": true`) sends the text that is settled after each step: the span's
committed slots up to its first still-masked one, decoded and cut as the final completion will be
(the healed lead taken off; a single line ends at its line break). Only requests with a listener pay
for the decode. The hook wraps Engine._advance (one row, one step) and leaves the engine's loop as it
is; if the engine's internals move, streaming falls back to the final text and says so in the log.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from engine.denoise.engine import Engine
from engine.denoise.layout import Layout, body

log = logging.getLogger("stipple.serve.steps")

StepListener = Callable[[int, str], None]  # (steps_done, settled text so far)


def settled_text(text: str, layout: Layout, mode: str) -> str:
    """The committed head of a span's text as the caller will see it: after the lead, and for a single
    line only up to its line break (the final completion may add the line's own newline or trail)."""
    text = body(text, layout)
    return text.split("\n", 1)[0] if mode == "single" else text


class StepHookEngine(Engine):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._listeners: dict[str, StepListener] = {}
        self._lock = threading.Lock()
        self._broken = False

    def listen(self, request_id: str, listener: StepListener | None) -> None:
        """Call listener(steps_done, text) after each of request_id's steps (None: stop listening)."""
        with self._lock:
            if listener is None:
                self._listeners.pop(request_id, None)
            else:
                self._listeners[request_id] = listener

    def _advance(self, row, *args, **kwargs):  # one row's step (engine/denoise/engine.py)
        result = super()._advance(row, *args, **kwargs)
        listener = self._listeners.get(row.request.request_id)
        if listener is not None and not self._broken:
            try:
                listener(row.request.steps_done, self._settled(row))
            except AttributeError as exc:  # Row/DenoiseState changed shape: final text only
                self._broken = True
                log.warning("per-step streaming is off (engine internals changed: %s)", exc)
        return result

    def _settled(self, row) -> str:
        masked = row.state.masked[0]  # (L,) bool
        committed = int(masked.int().argmax()) if row.state.num_masked else masked.numel()
        text = self.tokenizer.decode(row.state.span[0, :committed].tolist())
        return settled_text(text, row.layout, row.request.params.mode)
