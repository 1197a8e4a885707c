"""Engine: text in, text out. Tokenizes a fill-in-the-middle request, denoises the span, detokenizes.

The layout a model sees is `[bos] prefix [mask] * L suffix`; the span's unused tail is pad.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from engine import sampler
from engine.config import EngineConfig
from engine.params import DenoiseParams
from engine.request import RequestStatus, SpanRequest
from engine.runner import Runner


class Cancelled(Exception):
    """The request was cancelled between denoising steps."""


@dataclass
class Timer:
    request: SpanRequest

    def stage(self, name: str) -> _Stage:
        return _Stage(self.request, name)


class _Stage:
    def __init__(self, request: SpanRequest, name: str) -> None:
        self.request, self.name = request, name

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        elapsed = (time.perf_counter() - self.start) * 1000
        self.request.timings_ms[self.name] = self.request.timings_ms.get(self.name, 0.0) + elapsed


class Engine:
    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        self.runner = Runner(self.config)
        self.tokenizer = self.runner.loaded.tokenizer
        self.special = self.tokenizer.special
        self.max_positions = self.runner.loaded.args.max_position_embeddings

    def infill(self, prefix: str, suffix: str, params: DenoiseParams | None = None) -> SpanRequest:
        return self.generate(SpanRequest(prefix, suffix, params or DenoiseParams()))

    @torch.inference_mode()
    def generate(
        self, request: SpanRequest, should_stop: Callable[[], bool] | None = None
    ) -> SpanRequest:
        """Denoise request's span in at most params.steps steps. Raises Cancelled if should_stop()."""
        timer, params = Timer(request), request.params
        request.status = RequestStatus.RUNNING
        with timer.stage("tokenize"):
            self._tokenize(request)
        span_len = min(params.span_tokens, self.config.max_span_tokens)
        head = [self.special.bos] if self.special.bos is not None else []
        start = len(head) + len(request.prefix_ids)
        ids = self.runner.tensor(head + request.prefix_ids + [self.special.mask] * span_len + request.suffix_ids)
        span = ids[:, start : start + span_len].clone()  # (1, L)
        masked = torch.ones_like(span, dtype=torch.bool)  # (1, L)
        generator = torch.Generator(device=ids.device).manual_seed(params.seed)
        request.num_masked = span_len
        length = None  # the sampler's span-length estimate, carried across steps
        cache = self.runner.new_cache(ids.shape[1]) if params.context_cache else None
        banned = self.runner.banned_ids
        if not params.allow_pad:
            banned = torch.cat([banned, banned.new_tensor([self.special.pad])])
        while request.num_masked and request.steps_done < params.steps:
            if should_stop is not None and should_stop():
                request.status = RequestStatus.CANCELLED
                raise Cancelled(request.request_id)
            with timer.stage("denoise"):
                ids[:, start : start + span_len] = span
                step = request.steps_done
                refresh = step == 0 or bool(params.refresh_every and step % params.refresh_every == 0)
                logits = self.runner.span_logits(ids, start, span_len, cache, refresh)  # (1, L, V)
                tokens, conf, length = sampler.propose(
                    logits, span, masked, self.special.pad, banned,
                    params.temperature, generator, length,
                )
                k = sampler.num_to_commit(request.num_masked, params.steps - request.steps_done)
                span, masked = sampler.commit_most_confident(span, masked, tokens, conf, k, self.special.pad)
                request.num_masked = int(masked.sum())
                request.steps_done += 1
        with timer.stage("detokenize"):
            request.span_ids = span[0].tolist()
            text = self.tokenizer.decode(request.span_ids)
            request.text = finish_text(text, request.prefix, request.suffix, params.mode)
        request.status = RequestStatus.FINISHED
        return request

    def _tokenize(self, request: SpanRequest) -> None:
        budget = self.max_positions - min(request.params.span_tokens, self.config.max_span_tokens) - 1
        suffix_budget = min(self.config.max_suffix_tokens, budget // 4)
        request.suffix_ids = self.tokenizer.encode(request.suffix)[:suffix_budget]
        prefix_budget = min(self.config.max_prefix_tokens, budget - len(request.suffix_ids))
        prefix_ids = self.tokenizer.encode(request.prefix)
        request.prefix_ids = prefix_ids[max(0, len(prefix_ids) - prefix_budget) :]


def finish_text(text: str, prefix: str, suffix: str, mode: str) -> str:
    """The completion for its mode: single-line text ends at (and keeps) its first newline.

    A cursor at the start of a line whose suffix starts a new line needs the line's own newline,
    or the completed line would run into the next one.
    """
    if mode != "single":
        return text
    cut = text.find("\n")
    if cut >= 0:
        return text[: cut + 1]
    at_line_start = prefix == "" or prefix.endswith("\n")
    if text.strip() and at_line_start and suffix and not suffix.startswith("\n"):
        return text + "\n"
    return text
