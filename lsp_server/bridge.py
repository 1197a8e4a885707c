"""EngineBridge: the engine on one worker thread, off the event loop, with cancel-previous per document.

The engine (and torch) is imported here, lazily, when the model is loaded. One job runs at a time;
a new job for a document stops the one in flight for it between denoising steps, and so does a
cancelled awaiting task ($/cancelRequest).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from lsp_server.settings import Settings
from lsp_server.span import SpanPlan

log = logging.getLogger("stipple.bridge")


@dataclass
class Job:
    """One completion on its way through the engine."""

    plan: SpanPlan
    """What to denoise."""
    stop: threading.Event = field(default_factory=threading.Event)
    """Set to stop the engine at its next denoising step."""
    submitted: float = field(default_factory=time.perf_counter)
    """When the job was handed to the worker thread (queueing is measured from here)."""


@dataclass
class Completion:
    """The engine's answer for one job."""

    text: str
    """Generated text (before post-processing)."""
    request_id: str
    """The engine's request id, used in logs and the accept/reject commands."""
    steps_done: int
    """Denoising steps actually run."""
    timings_ms: dict[str, float]
    """Stage -> duration, from the engine."""
    queue_ms: float = 0.0
    """Time the job waited for the worker thread."""
    steps_ms: list[float] = field(default_factory=list)
    """Each denoising step's duration, measured between the engine's should_stop calls."""
    span_ids: list[int] = field(default_factory=list)
    """The span's token ids after denoising (pads included)."""


def load_engine(settings: Settings) -> Any:
    from engine.config import EngineConfig
    from engine.engine import Engine

    config = EngineConfig(model_dir=settings.model, device=settings.device, num_threads=settings.threads,
                          max_prefix_tokens=settings.max_prefix_tokens,
                          max_suffix_tokens=settings.max_suffix_tokens)
    return Engine(config)


class EngineBridge:
    def __init__(self) -> None:
        self.engine: Any = None
        self.error: str | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stipple-engine")
        self._in_flight: dict[str, Job] = {}

    @property
    def ready(self) -> bool:
        return self.engine is not None

    async def load(self, settings: Settings) -> None:
        """Load (or reload) the model on the worker thread; on failure keep the reason in .error."""
        self.engine, self.error = None, None
        try:
            self.engine = await asyncio.get_running_loop().run_in_executor(self._executor, load_engine, settings)
        except Exception as exc:  # a bad model dir must leave a live server that says why
            self.error = str(exc) or type(exc).__name__
            log.error("cannot load model %s: %s", settings.model or "(default)", self.error)

    def count_tokens(self, text: str) -> int:
        return len(self.engine.tokenizer.encode(text))

    def cancel(self, key: str) -> None:
        if (job := self._in_flight.pop(key, None)) is not None:
            job.stop.set()

    async def complete(self, key: str, plan: SpanPlan) -> Completion | None:
        """Run plan for document key; None when it was cancelled or superseded."""
        self.cancel(key)
        job = self._in_flight[key] = Job(plan)
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, self._run, job)
        except asyncio.CancelledError:
            job.stop.set()
            raise
        finally:
            if self._in_flight.get(key) is job:
                del self._in_flight[key]

    def _run(self, job: Job) -> Completion | None:
        from engine.engine import Cancelled
        from engine.params import DenoiseParams
        from engine.request import SpanRequest

        plan, engine = job.plan, self.engine
        queue_ms = (time.perf_counter() - job.submitted) * 1000
        if job.stop.is_set() or engine is None:
            return None
        request = SpanRequest(plan.prefix, plan.suffix,
                              DenoiseParams(steps=plan.steps, mode=plan.mode, span_tokens=plan.span_tokens))
        step_starts: list[float] = []

        def should_stop() -> bool:  # called before each denoising step: the step boundaries
            step_starts.append(time.perf_counter())
            return job.stop.is_set()

        try:
            engine.generate(request, should_stop=should_stop)
        except Cancelled:
            log.debug("%s cancelled after %d steps", request.request_id, request.steps_done)
            return None
        denoise_end = time.perf_counter() - request.timings_ms.get("detokenize", 0.0) / 1000
        bounds = step_starts[: request.steps_done] + [denoise_end]
        steps_ms = [(b - a) * 1000 for a, b in zip(bounds, bounds[1:])]
        return Completion(request.text, request.request_id, request.steps_done, dict(request.timings_ms),
                          queue_ms, steps_ms, list(request.span_ids))

    def shutdown(self) -> None:
        for key in list(self._in_flight):
            self.cancel(key)
        self._executor.shutdown(wait=False, cancel_futures=True)
