"""EngineWorker: one replica's engine on a worker thread, batching and cancelling between steps.

The same shape as the language server's bridge (lsp_server/bridge.py), without documents: requests
wait in the engine's scheduler (engine/denoise/scheduler.py) and the worker thread runs them in batches of
equal batch key (engine.denoise.engine.batch_key) through `generate_batch`, so requests that arrive while a
batch runs share the next one's forward passes. A request whose caller went away (the HTTP client
disconnected, Serve cancelled the handler) or whose deadline passed stops at the next denoising step.
No Ray here: the deployment (app.py) wraps it, and the tests drive it directly.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from engine.denoise.request import RequestStatus, SpanRequest, resolve_future
from engine.denoise.scheduler import Scheduler

log = logging.getLogger("stipple.serve.worker")


@dataclass
class Job:
    """One request on its way through the replica's engine."""

    request: SpanRequest
    """What to denoise; its status and text are filled in by the engine."""
    key: tuple
    """engine.denoise.engine.batch_key: jobs with equal keys share forward passes."""
    future: asyncio.Future
    """Resolved on the event loop with (request, batch size) once the batch is done."""
    deadline: float | None = None
    """time.monotonic() after which the job stops at its next step."""
    stop: threading.Event = field(default_factory=threading.Event)
    """Set to stop the engine at the job's next denoising step."""

    @property
    def batch_key(self) -> tuple:
        return self.key

    @property
    def cancelled(self) -> bool:
        return self.stop.is_set()

    def should_stop(self) -> bool:
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.stop.set()
        return self.stop.is_set()


@dataclass
class Counters:
    finished: int = 0
    cancelled: int = 0
    failed: int = 0
    batches: int = 0
    batched_requests: int = 0
    """Requests that ran in batches of two or more."""


class EngineWorker:
    def __init__(self, engine: Any, max_batch: int = 8) -> None:
        from engine.denoise.engine import batch_key  # torch: the replica has it anyway

        self.engine = engine
        self._batch_key = batch_key
        self.scheduler = Scheduler(max_batch)
        self.counters = Counters()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stipple-replica")
        self._alive = True

    @property
    def max_span_tokens(self) -> int:
        return self.engine.config.max_span_tokens

    async def run(self, request: SpanRequest, timeout_s: float | None = None) -> tuple[SpanRequest, int] | None:
        """Denoise request in the next batch that can take it: (request, batch size), or None when it was
        stopped (deadline). A cancelled await (the caller is gone) stops it at its next step."""
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + timeout_s if timeout_s else None
        job = Job(request, self._batch_key(request, self.max_span_tokens), loop.create_future(), deadline)
        self.scheduler.add(job)
        loop.run_in_executor(self._executor, self._drain, loop)
        try:
            result = await job.future
        except asyncio.CancelledError:
            job.stop.set()
            raise
        return None if result[0].status is not RequestStatus.FINISHED else result

    def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        """Worker thread: the next batch of waiting jobs (each run() queues one drain; a drain may find
        its job taken by an earlier batch, then it has nothing to do)."""
        jobs = self.scheduler.next_batch()
        if not jobs:
            return
        requests = [job.request for job in jobs]
        try:
            self.engine.generate_batch(requests, [job.should_stop for job in jobs])
        except Exception as exc:  # answered as a 500 to each caller of this batch
            log.exception("batch of %d failed", len(jobs))
            self.counters.failed += len(jobs)
            for job in jobs:
                loop.call_soon_threadsafe(resolve_future, job.future, None, exc)
            return
        self.counters.batches += 1
        self.counters.batched_requests += len(jobs) if len(jobs) > 1 else 0
        for job in jobs:
            if job.request.status is RequestStatus.FINISHED:
                self.counters.finished += 1
            else:
                self.counters.cancelled += 1
            loop.call_soon_threadsafe(resolve_future, job.future, (job.request, len(jobs)), None)

    def healthy(self) -> str | None:
        """None when the worker can take requests, else why not."""
        if not self._alive:
            return "the worker was shut down"
        try:  # a dead or wedged executor refuses new work
            self._executor.submit(lambda: None)
        except RuntimeError as exc:
            return f"worker thread unusable: {exc}"
        return None

    def shutdown(self) -> None:
        self._alive = False
        self._executor.shutdown(wait=False, cancel_futures=True)
