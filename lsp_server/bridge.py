"""EngineBridge: the engine on one worker thread, off the event loop, with cancel-previous per document.

The engine (and torch) is imported here, lazily, when the model is loaded. Jobs wait in the
engine's scheduler (engine/denoise/scheduler.py, no torch); the worker runs them in batches, so requests of
several documents (or editors) arriving together share each forward pass. A new job for a document
stops the one in flight for it between denoising steps, and so does a cancelled awaiting task
($/cancelRequest). Each document's context keys/values are kept for its next request (the engine's
context store), so a keystroke recomputes only what changed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from engine.denoise.request import resolve_future
from lsp_server.settings import Settings
from lsp_server.span import SpanPlan
from lsp_server.suggest import span_request

log = logging.getLogger("stipple.bridge")


@dataclass
class Job:
    """One completion on its way through the engine."""

    plan: SpanPlan
    """What to denoise."""
    key: str = ""
    """The document (its uri): cancel-previous and the context store go by it."""
    stop: threading.Event = field(default_factory=threading.Event)
    """Set to stop the engine at its next denoising step."""
    submitted: float = field(default_factory=time.perf_counter)
    """When the job was handed to the worker thread (queueing is measured from here)."""
    future: asyncio.Future | None = None
    """Resolved on the event loop with the job's Completion (or None)."""

    @property
    def batch_key(self) -> tuple:  # engine.denoise.scheduler: jobs with equal keys share forward passes
        return self.plan.span_tokens

    @property
    def cancelled(self) -> bool:
        return self.stop.is_set()


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
    """Each denoising step's duration (the engine's own timing; the first is the prefill)."""
    span_ids: list[int] = field(default_factory=list)
    """The span's token ids after denoising (pads included)."""
    reused_tokens: int = 0
    """Context positions whose keys/values came from the document's previous request."""
    batch_size: int = 1
    """Requests that shared this one's forward passes."""
    ended_line: bool = False
    """The span broke the line before writing on it (lsp_server.suggest.verdict: a single line's skip)."""


def load_engine(settings: Settings) -> Any:
    from engine.ar.twin import build_engine
    from engine.denoise.config import EngineConfig

    config = EngineConfig(model_dir=settings.model, device=settings.device, dtype=settings.dtype,
                          num_threads=settings.threads,
                          max_prefix_tokens=settings.max_prefix_tokens,
                          max_suffix_tokens=settings.max_suffix_tokens, guide=settings.guide)
    return build_engine(config, settings.completer)


class EngineBridge:
    def __init__(self, max_batch: int = 8) -> None:
        from engine.denoise.scheduler import Scheduler  # no torch: books only

        self.engine: Any = None
        self.error: str | None = None
        self.fault: str | None = None
        """The last failure of a loaded engine (out of memory, ...), for stipple.status; None once a job
        runs through again."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stipple-engine")
        self._in_flight: dict[str, Job] = {}
        self.scheduler = Scheduler(max_batch)

    @property
    def ready(self) -> bool:
        return self.engine is not None

    @property
    def in_flight(self) -> dict[str, Job]:
        return self._in_flight

    async def load(self, settings: Settings) -> None:
        """Load (or reload) the model on the worker thread; on failure keep the reason in .error."""
        self.engine, self.error, self.fault = None, None, None
        try:
            self.engine = await asyncio.get_running_loop().run_in_executor(self._executor, load_engine, settings)
        except Exception as exc:  # a bad model dir must leave a live server that says why
            self.error = str(exc) or type(exc).__name__
            log.error("cannot load model %s: %s", settings.model or "(default)", self.error)

    def count_tokens(self, text: str) -> int:
        return len(self.engine.tokenizer.encode(text))

    def cancel(self, key: str) -> None:
        """Stop key's job (event loop thread): its awaiting caller gets None at once, the engine drops
        it at its next step or the scheduler before it runs."""
        if (job := self._in_flight.pop(key, None)) is not None:
            job.stop.set()
            if job.future is not None and not job.future.done():
                job.future.set_result(None)

    def forget(self, key: str) -> None:
        """The document is gone: stop its job and drop its stored context (on the worker thread)."""
        self.cancel(key)
        if self.engine is not None:
            self._executor.submit(self.engine.forget, key)

    async def complete(self, key: str, plan: SpanPlan) -> Completion | None:
        """Run plan for document key; None when it was cancelled or superseded."""
        self.cancel(key)
        loop = asyncio.get_running_loop()
        job = self._in_flight[key] = Job(plan, key, future=loop.create_future())
        self.scheduler.add(job)
        loop.run_in_executor(self._executor, self._drain, loop)
        return await self._await(key, job, job.future)

    async def _await(self, key: str, job: Job, waiting: Any) -> Any:
        """Await key's newest job; a cancelled wait ($/cancelRequest) stops it at its next step."""
        try:
            return await waiting
        except asyncio.CancelledError:
            job.stop.set()
            raise
        finally:
            if self._in_flight.get(key) is job:
                del self._in_flight[key]

    def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        """Worker thread: run the next batch of waiting jobs (each complete() queues one drain, so a
        drain may find its job already taken by an earlier batch: then it has nothing to do)."""
        jobs = self.scheduler.next_batch()
        if not jobs:
            return
        try:
            results = self._run(jobs)
        except Exception as exc:  # the handlers log it and answer with an empty result
            self.fault = describe_fault(exc)
            if is_out_of_memory(exc):
                self._release_memory()
            for job in jobs:
                loop.call_soon_threadsafe(resolve_future, job.future, None, exc)
            return
        self.fault = None
        for job, result in zip(jobs, results):
            loop.call_soon_threadsafe(resolve_future, job.future, result, None)

    def _run(self, jobs: list[Job]) -> list[Completion | None]:
        from engine.denoise.request import RequestStatus

        engine, began = self.engine, time.perf_counter()
        if engine is None:
            return [None] * len(jobs)
        requests = [span_request(job.plan, job.key) for job in jobs]
        should_stop = [job.stop.is_set for job in jobs]  # checked before each denoising step
        engine.generate_batch(requests, should_stop)
        results: list[Completion | None] = []
        for job, request in zip(jobs, requests):
            if request.status is not RequestStatus.FINISHED:
                log.debug("%s cancelled after %d steps", request.request_id, request.steps_done)
                results.append(None)
                continue
            results.append(Completion(request.text, request.request_id, request.steps_done,
                                      dict(request.timings_ms), (began - job.submitted) * 1000,
                                      list(request.steps_ms), list(request.span_ids), request.reused_tokens,
                                      len(jobs), request.ended_line))
        return results

    def _release_memory(self) -> None:
        """After running out of memory: drop every stored document context and the allocator's cache,
        so that the next request (or a smaller model) has room. Worker thread."""
        contexts = getattr(self.engine, "contexts", None)
        if contexts is not None:
            contexts.entries.clear()
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def shutdown(self) -> None:
        for key in list(self._in_flight):
            self.cancel(key)
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def run_job(self, key: str, work: Any) -> Any:
        """work(engine, stop) on the worker thread, cancel-previous per key as complete(); stop is a
        threading.Event, set when a newer job for key arrives or the awaiting task is cancelled."""
        self.cancel(key)
        job = self._in_flight[key] = Job(plan=None, key=key)  # type: ignore[arg-type]
        running = asyncio.get_running_loop().run_in_executor(self._executor, work, self.engine, job.stop)
        return await self._await(key, job, running)


def is_out_of_memory(exc: BaseException) -> bool:
    """torch.OutOfMemoryError (CUDA, MPS) or Python's MemoryError (a CPU allocation), told apart from
    other failures without importing torch."""
    return isinstance(exc, MemoryError) or any(cls.__name__ == "OutOfMemoryError" for cls in type(exc).__mro__)


def describe_fault(exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
    if is_out_of_memory(exc):
        return f"out of memory while completing ({first}); stored contexts were dropped. Lower maxSpanTokens " \
               "or maxPrefixTokens, or choose a smaller model or another device"
    return f"the engine failed: {type(exc).__name__}: {first}"
