"""The Ray Serve application: engine replicas behind an OpenAI-style completions API.

Each replica (`Completer`) loads one engine (one per GPU, or a CPU replica with its own torch
threads) and answers HTTP itself; Serve's proxy spreads requests over the replicas and scales their
number between bounds when autoscaling is on. Inside a replica, requests that arrive together are
batched by the engine's scheduler (worker.py). When the HTTP client goes away, Serve cancels the
handler and the request stops at its next denoising step. `check_health` fails when the engine did
not load or its worker is gone, and Serve replaces the replica.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ray import serve
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from engine.serve import api

log = logging.getLogger("stipple.serve")


@dataclass
class ReplicaOptions:
    """What each replica needs; passed to every replica's constructor (so it must pickle)."""

    engine: dict = field(default_factory=dict)
    """EngineConfig fields by name (model_dir, device, dtype, num_threads, budgets)."""
    completer: str = "diffusion"
    """engine.denoise.params.COMPLETERS: the diffusion engine or an autoregressive baseline."""
    model_name: str = "stipple"
    """The id GET /v1/models reports and requests may name."""
    max_batch: int = 8
    """Requests of equal batch key sharing one forward pass per step."""
    max_body_bytes: int = api.MAX_BODY_BYTES
    """Larger request bodies get 413."""
    request_timeout_s: float = 60.0
    """A request still running after this stops at its next step (504)."""
    token_sha256: str | None = None
    """sha256 of $STIPPLE_API_TOKEN at start (the token itself never enters Ray's config)."""


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def load_engine(options: ReplicaOptions):
    from engine.ar.twin import build_engine
    from engine.denoise.config import EngineConfig
    from engine.serve.steps import StepHookEngine

    config = EngineConfig(**options.engine)
    return StepHookEngine(config) if options.completer == "diffusion" else build_engine(config, options.completer)


@serve.deployment(name="stipple", max_ongoing_requests=32, health_check_period_s=5, health_check_timeout_s=30,
                  graceful_shutdown_timeout_s=5)
class Completer:
    def __init__(self, options: ReplicaOptions) -> None:
        from engine.serve.worker import EngineWorker

        logging.basicConfig(level=logging.INFO)
        self.options = options
        self.engine = load_engine(options)
        self.worker = EngineWorker(self.engine, options.max_batch)
        self.special_ids = frozenset(self.engine.tokenizer.special.ids)
        log.info("replica ready: %s on %s", self.engine.config.model_dir, self.engine.config.device)

    def check_health(self) -> None:
        problem = self.worker.healthy()
        if problem:
            raise RuntimeError(problem)

    async def __call__(self, request: Request) -> Response:
        try:
            self._authorize(request)
            route = (request.method, request.url.path.rstrip("/"))
            if route == ("POST", "/v1/completions"):
                return await self._complete(request)
            if route == ("GET", "/v1/models"):
                return JSONResponse(api.models_body(self.options.model_name, self._details()))
            if route == ("GET", "/v1/stipple/stats"):
                return JSONResponse({"replica": str(serve.get_replica_context().replica_id), "pid": os.getpid(),
                                     **asdict(self.worker.counters)})
            raise api.ApiError(404, f"no route {request.method} {request.url.path}", "not_found")
        except api.ApiError as exc:
            return JSONResponse(exc.body(), status_code=exc.status)

    def _authorize(self, request: Request) -> None:
        if self.options.token_sha256 is None:
            return
        token = api.bearer_token(request.headers.get("authorization"))
        if token is None or not hmac.compare_digest(token_digest(token), self.options.token_sha256):
            raise api.ApiError(401, "missing or wrong 'Authorization: Bearer <token>' ($STIPPLE_API_TOKEN)",
                               "invalid_api_key")

    def _details(self) -> dict:
        config = self.engine.config
        return {"completer": self.options.completer, "device": config.device, "dtype": config.dtype,
                "max_positions": self.engine.max_positions, "max_span_tokens": config.max_span_tokens,
                "max_prefix_tokens": config.max_prefix_tokens, "max_suffix_tokens": config.max_suffix_tokens,
                "model_dir": Path(config.model_dir).name}

    async def _body(self, request: Request) -> bytes:
        """The body, refused (413) as soon as it is over the limit, before it is all read."""
        limit = self.options.max_body_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise api.too_large(int(declared), limit)
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise api.too_large(size, limit)
            chunks.append(chunk)
        return b"".join(chunks)

    async def _complete(self, request: Request) -> Response:
        from engine.denoise.request import SpanRequest

        body = api.parse_completion(await self._body(request), self.worker.max_span_tokens,
                                    self.options.max_body_bytes)
        if body.model not in (None, "", self.options.model_name):
            raise api.ApiError(404, f"model {body.model!r} is not served here ({self.options.model_name})",
                               "model_not_found")
        span = SpanRequest(body.prompt, body.suffix, body.params)
        cid = api.completion_id()
        if body.stream:
            return StreamingResponse(self._events(span, cid), media_type="text/event-stream")
        result = await self.worker.run(span, self.options.request_timeout_s)
        if result is None:
            raise api.ApiError(504, f"stopped after {span.steps_done} steps: over the request timeout "
                                    f"({self.options.request_timeout_s:g} s)", "timeout")
        _, batch_size = result
        return JSONResponse(api.completion_body(cid, self.options.model_name, span.text, self._finish_reason(span),
                                                self._usage(span), self._stipple(span, batch_size)))

    async def _events(self, span, cid: str):
        """Server-sent events: each step's newly settled text, the rest at the end, then [DONE]. A chunk
        with "stipple": {"replace": true} carries the whole text (the final cut differed from a step's)."""
        loop, updates = asyncio.get_running_loop(), asyncio.Queue()
        listen = getattr(self.engine, "listen", None)  # the autoregressive baselines stream the end only
        if listen is not None:
            listen(span.request_id, lambda steps, text: loop.call_soon_threadsafe(updates.put_nowait, (steps, text)))
        running = asyncio.ensure_future(self.worker.run(span, self.options.request_timeout_s))
        sent, model = "", self.options.model_name
        try:
            while not running.done() or not updates.empty():
                getter = asyncio.ensure_future(updates.get())
                await asyncio.wait({getter, running}, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    getter.cancel()
                    continue
                steps, text = getter.result()
                if text.startswith(sent) and len(text) > len(sent):
                    yield api.sse(api.chunk_body(cid, model, text[len(sent):], None, {"step": steps}))
                    sent = text
            result = running.result()
            if result is None:
                error = api.ApiError(504, f"stopped after {span.steps_done} steps: over the request timeout", "timeout")
                yield api.sse(error.body())
            else:
                replace = not span.text.startswith(sent)
                rest = span.text if replace else span.text[len(sent):]
                yield api.sse(api.chunk_body(cid, model, rest, self._finish_reason(span),
                                             {**self._stipple(span, result[1]), "replace": replace,
                                              "usage": self._usage(span)}))
            yield api.sse("[DONE]")
        finally:
            if listen is not None:
                listen(span.request_id, None)
            if not running.done():
                running.cancel()  # the client left: the request stops at its next step

    def _content(self, span) -> list[int]:
        return [t for t in span.span_ids if t not in self.special_ids]

    def _finish_reason(self, span) -> str:
        """"length" when every slot holds text (the completion may go on), else "stop"."""
        return "length" if len(self._content(span)) >= (span.params.span_tokens or 0) else "stop"

    def _usage(self, span) -> dict:
        prompt, completion = len(span.prefix_ids) + len(span.suffix_ids), len(self._content(span))
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    @staticmethod
    def _stipple(span, batch_size: int) -> dict:
        return {"request_id": span.request_id, "steps": span.steps_done, "batch_size": batch_size,
                "ended_line": span.ended_line, "reused_tokens": span.reused_tokens,
                "timings_ms": {k: round(v, 2) for k, v in span.timings_ms.items()}, "served_at": time.time()}


@dataclass
class Scaling:
    """How many replicas, with what resources."""

    replicas: int = 1
    """Replicas at start (fixed unless max_replicas is larger)."""
    max_replicas: int | None = None
    """Autoscale between `replicas` and this many on the ongoing requests per replica."""
    num_cpus: float = 1.0
    """CPUs each replica reserves (its torch threads)."""
    num_gpus: float = 0.0
    """GPUs each replica reserves (1: one replica per GPU)."""
    target_ongoing_requests: int = 8
    """Autoscaling's target: requests in flight per replica (about one full batch)."""

    def serve_options(self) -> dict:
        options = {"ray_actor_options": {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus}}
        if self.max_replicas and self.max_replicas > self.replicas:
            options["autoscaling_config"] = {"min_replicas": self.replicas, "initial_replicas": self.replicas,
                                             "max_replicas": self.max_replicas,
                                             "target_ongoing_requests": self.target_ongoing_requests,
                                             "upscale_delay_s": 5, "downscale_delay_s": 60}
        else:
            options["num_replicas"] = self.replicas
        return options


def build_app(options: ReplicaOptions, scaling: Scaling):
    return Completer.options(**scaling.serve_options()).bind(options)
