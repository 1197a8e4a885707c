"""Engine: text in, text out. Tokenizes a fill-in-the-middle request, denoises the span, detokenizes.

The layout a model sees is `[bos] prefix [mask] * L suffix`; the span's unused tail is pad.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from engine import strategies
from engine.config import EngineConfig
from engine.layout import Layout, completion, heal
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
        """Denoise request's span in at most params.steps steps. Raises Cancelled if should_stop().

        The per-step strategy (which slots to commit, blocks, remasking) lives in strategies.py.
        """
        timer, params = Timer(request), request.params
        request.status = RequestStatus.RUNNING
        with timer.stage("tokenize"):
            layout = self._tokenize(request)
        span_len = min(params.span_tokens, self.config.max_span_tokens)
        head = [self.special.bos] if self.special.bos is not None else []
        start = len(head) + len(request.prefix_ids)
        ids = self.runner.tensor(head + request.prefix_ids + [self.special.mask] * span_len + request.suffix_ids)
        span = ids[:, start : start + span_len].clone()  # (1, L)
        state = strategies.initial_state(span, params)
        generator = torch.Generator(device=ids.device).manual_seed(params.seed)
        request.num_masked = state.num_masked
        cache = self.runner.new_cache(ids.shape[1]) if params.context_cache else None
        banned = self.runner.banned_ids
        if not params.allow_pad:
            banned = torch.cat([banned, banned.new_tensor([self.special.pad])])
        while request.num_masked and request.steps_done < params.steps:
            if should_stop is not None and should_stop():
                request.status = RequestStatus.CANCELLED
                raise Cancelled(request.request_id)
            with timer.stage("denoise"):
                ids[:, start : start + span_len] = state.span
                step = request.steps_done
                refresh = step == 0 or bool(params.refresh_every and step % params.refresh_every == 0)
                logits = self.runner.span_logits(ids, start, span_len, cache, refresh)  # (1, L, V)
                if layout.lead:  # the span begins with the prefix's newline (engine/layout.py)
                    logits[:, 0] = logits[:, 0].masked_fill(~self.newline_first, float("-inf"))
                if params.mode == "single" and layout.lead and span_len > 1:
                    # The line asked for is not blank: its first token may not break the line.
                    logits[:, 1] = logits[:, 1].masked_fill(self.newline_first, float("-inf"))
                state = strategies.denoise_step(logits, state, params, self.special.pad,
                                                self.special.mask, banned, generator)
                request.num_masked = state.num_masked
                request.steps_done = state.steps_done
        with timer.stage("detokenize"):
            request.span_ids = state.span[0].tolist()
            text = self.tokenizer.decode(request.span_ids)
            request.text = completion(text, layout, params.mode)
        request.status = RequestStatus.FINISHED
        return request

    @functools.cached_property
    def newline_first(self) -> torch.Tensor:
        """(V,) bool: tokens whose text starts with a newline."""
        starts = [self.tokenizer.decode([i]).startswith(("\n", "\r\n"))
                  for i in range(self.runner.loaded.args.vocab_size)]
        return torch.tensor(starts, device=self.runner.device)

    def _tokenize(self, request: SpanRequest) -> Layout:
        layout = heal(request.prefix, request.suffix)
        budget = self.max_positions - min(request.params.span_tokens, self.config.max_span_tokens) - 1
        suffix_budget = min(self.config.max_suffix_tokens, budget // 4)
        request.suffix_ids = self.tokenizer.encode(layout.suffix)[:suffix_budget]
        prefix_budget = min(self.config.max_prefix_tokens, budget - len(request.suffix_ids))
        prefix_ids = self.tokenizer.encode(layout.prefix)
        request.prefix_ids = prefix_ids[max(0, len(prefix_ids) - prefix_budget) :]
        return layout

