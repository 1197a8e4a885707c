"""Engine: text in, text out. Tokenizes fill-in-the-middle requests, denoises their spans together,
detokenizes.

The layout a model sees is `[bos] prefix [mask] * L suffix`; the span's unused tail is pad. Several
requests with the same span length share one forward pass per step: their rows are aligned on the
span (left padding before the prefix, right padding after the suffix, padding never attended to).
Rotary position embeddings depend only on relative positions, so the shift a row's left padding
causes changes nothing but rounding: a request batched with others gets the tokens it gets alone.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from engine.denoise import healing, strategies
from engine.denoise.config import EngineConfig
from engine.denoise.context_store import ContextStore
from engine.denoise.guide import Guide, GuideState
from engine.denoise.layout import Layout, body, completion, ends_line_at_once, heal
from engine.denoise.params import DenoiseParams
from engine.denoise.request import RequestStatus, SpanRequest
from engine.denoise.runner import Runner

StopCheck = Callable[[], bool]
PREFILL_PIECE = 64  # block-causal prefix positions prefilled between two cancellation checks


class Cancelled(Exception):
    """The request was cancelled between denoising steps."""


@dataclass
class Row:
    """One request inside a denoising run."""

    request: SpanRequest
    layout: Layout
    ids: list[int]  # [bos] prefix [mask] * span_len suffix
    start: int  # index of the first span slot in ids
    state: strategies.DenoiseState
    generator: torch.Generator
    banned: torch.Tensor  # (N,) ids never generated
    should_stop: StopCheck | None
    guide: GuideState | None = None  # the guide model's view of this request (engine/denoise/guide.py)

    @property
    def done(self) -> bool:
        r = self.request
        return r.status is RequestStatus.CANCELLED or not r.num_masked or r.steps_done >= r.params.steps


def batch_key(request: SpanRequest, max_span_tokens: int) -> tuple:
    """Requests with equal keys may share a run (engine.denoise.scheduler groups by it)."""
    p = request.params
    return min(p.span_tokens, max_span_tokens), p.context_cache, p.refresh_every


class Engine:
    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        self.runner = Runner(self.config)
        self.tokenizer = self.runner.loaded.tokenizer
        self.special = self.tokenizer.special
        self.max_positions = self.runner.loaded.args.max_position_embeddings
        self.contexts = ContextStore(self.config.reuse_documents, self.config.min_reused_tokens)
        self.graph_step = None  # a single request's cached steps at static shapes, replayed on CUDA
        block_causal = self.runner.loaded.args.attention_layout == "block-causal"
        if self.runner.device.type == "cuda" and self.config.cuda_graphs and not block_causal:
            from engine.denoise.cuda_graphs import CudaGraphStep

            c = self.config
            capacity = min(self.max_positions, c.max_prefix_tokens + c.max_suffix_tokens + c.max_span_tokens + 8)
            self.graph_step = CudaGraphStep(self.runner.model, capacity)
        self.guide = self._guide()

    def _guide(self) -> Guide | None:
        """The next-token model that guides left-to-right decoding, if any (EngineConfig.guide)."""
        from engine.weights.default_model import resolve_model

        name = self.config.guide
        if name == "auto":
            name = self.runner.loaded.args.extra.get("guide")
        if not name:
            return None
        guide = Guide(resolve_model(name), self.runner.device, self.config.torch_dtype, self.config.guide_weight)
        if guide.loaded.tokenizer.hf.get_vocab() != self.tokenizer.hf.get_vocab():
            raise ValueError(f"guide {name}: its vocabulary is not the model's, so their tokens cannot be mixed")
        return guide

    def infill(self, prefix: str, suffix: str, params: DenoiseParams | None = None) -> SpanRequest:
        return self.generate(SpanRequest(prefix, suffix, params or DenoiseParams()))

    def generate(self, request: SpanRequest, should_stop: StopCheck | None = None) -> SpanRequest:
        """Denoise request's span in at most params.steps steps. Raises Cancelled if should_stop()."""
        self.generate_batch([request], [should_stop])
        if request.status is RequestStatus.CANCELLED:
            raise Cancelled(request.request_id)
        return request

    @torch.inference_mode()
    def generate_batch(self, requests: Sequence[SpanRequest],
                       should_stop: Sequence[StopCheck | None] | None = None) -> list[SpanRequest]:
        """Denoise several requests together (equal batch_key); a cancelled one ends CANCELLED.

        Each step runs one forward pass over the rows still going; a row that finishes or is
        cancelled leaves the batch (and its share of the context cache) at once. The per-step
        strategy (which slots to commit, blocks, remasking) lives in strategies.py.
        """
        keys = {batch_key(r, self.config.max_span_tokens) for r in requests}
        if len(keys) != 1:
            raise ValueError(f"requests in one batch need equal span length and cache settings, got {keys}")
        stops = list(should_stop) if should_stop is not None else [None] * len(requests)
        rows = [self._prepare(request, stop, alone=len(requests) == 1) for request, stop in zip(requests, stops)]
        sequence = rows[0].ids
        span_len, use_cache, refresh_every = keys.pop()
        ids, key_valid, left = self._aligned(rows, span_len)
        width = ids.shape[1]
        cache, reuse_from, span_logits = None, 0, self.runner.span_logits
        if use_cache and self.graph_step is not None and len(rows) == 1 and width <= self.graph_step.capacity:
            span_logits = self.graph_step.span_logits  # owns its cache; no reuse across requests
        elif use_cache:
            cache, reuse_from = self._context_cache(rows, width)
            if len(rows) == 1 and self.runner.loaded.args.attention_layout == "block-causal":
                reuse_from = self._prefill_in_pieces(rows[0], ids, left, span_len, cache, reuse_from)
        step = 0
        while rows:
            for row in rows:  # before each step a row will run: the step boundaries callers time
                if not row.done and row.should_stop is not None and row.should_stop():
                    row.request.status = RequestStatus.CANCELLED
            going = [i for i, row in enumerate(rows) if not row.done]
            if len(going) < len(rows):
                self._finish([row for i, row in enumerate(rows) if i not in going])
                rows = [rows[i] for i in going]
                if not rows:
                    break
                index = torch.tensor(going, device=ids.device)
                ids = ids.index_select(0, index)
                key_valid = None if key_valid is None else key_valid.index_select(0, index)
                if cache is not None:
                    cache.select_rows(going)
            refresh = step == 0 or bool(refresh_every and step % refresh_every == 0)
            stage = "prefill" if step == 0 else "denoise"
            started = time.perf_counter()
            for i, row in enumerate(rows):
                ids[i, left : left + span_len] = row.state.span[0]
            logits = span_logits(ids, left, span_len, cache, refresh, reuse_from if step == 0 else 0,
                                 key_valid)  # (B, L, V)
            forward_ms = (time.perf_counter() - started) * 1000
            for i, row in enumerate(rows):
                advance_start = time.perf_counter()
                self._advance(row, logits[i : i + 1])
                step_ms = forward_ms + (time.perf_counter() - advance_start) * 1000
                row.request.steps_ms.append(step_ms)
                row.request.timings_ms[stage] = row.request.timings_ms.get(stage, 0.0) + step_ms
            step += 1
        if cache is not None and len(requests) == 1 and requests[0].steps_done:
            # Kept even when the request was cancelled after its prefill: typing cancels most requests,
            # and the next keystroke's request is exactly the one that wants these keys/values.
            self.contexts.keep(requests[0].cache_key, sequence, cache)
        return list(requests)

    def _prefill_in_pieces(self, row: Row, ids: torch.Tensor, start: int, span_len: int, cache,
                           reuse_from: int) -> int:
        """Block-causal, one request: the prefix positions the cache lacks, PREFILL_PIECE at a time, with a
        cancellation check before each piece; returns the first position still to compute. A request
        cancelled here keeps the pieces it computed for the next keystroke (exact: prefix rows see only
        the prefix), so on a slow CPU fast typing still fills the cache instead of restarting it."""
        request = row.request
        while start - reuse_from > PREFILL_PIECE:
            if row.should_stop is not None and row.should_stop():
                request.status = RequestStatus.CANCELLED
                if request.params.reuse_context:
                    self.contexts.keep(request.cache_key, row.ids[:reuse_from], cache)
                break
            with request.stage("prefill"):
                self.runner.prefill_prefix(ids, reuse_from, reuse_from + PREFILL_PIECE, start, span_len, cache)
            reuse_from += PREFILL_PIECE
        return reuse_from

    def _aligned(self, rows: list[Row], span_len: int) -> tuple[torch.Tensor, torch.Tensor | None, int]:
        """Rows padded so that every span starts at column `left`: ids (B, T), key_valid (B, T) bool
        (None when nothing is padding), left."""
        left = max(row.start for row in rows)
        width = left + span_len + max(len(row.ids) - row.start - span_len for row in rows)
        grid, valid = [], []
        for row in rows:
            before, after = left - row.start, width - (left - row.start) - len(row.ids)
            grid.append([self.special.pad] * before + row.ids + [self.special.pad] * after)
            valid.append([False] * before + [True] * len(row.ids) + [False] * after)
        ids = self.runner.tensor(grid)  # (B, T)
        key_valid = None if all(all(v) for v in valid) else torch.tensor(valid, device=ids.device)  # (B, T)
        return ids, key_valid, left

    def forget(self, cache_key: str) -> None:
        """Drop a document's stored context (the document was closed)."""
        self.contexts.drop(cache_key)
        if self.guide is not None:
            self.guide.forget(cache_key)

    def _prepare(self, request: SpanRequest, should_stop: StopCheck | None, alone: bool = True) -> Row:
        request.status = RequestStatus.RUNNING
        params = request.params
        with request.stage("tokenize"):
            layout = self._tokenize(request)
        span_len = min(params.span_tokens, self.config.max_span_tokens)
        ids, start = self.sequence(request.prefix_ids, span_len, request.suffix_ids)
        span = self.runner.tensor(ids[start : start + span_len])  # (1, L)
        state = strategies.initial_state(span, params)
        request.num_masked = state.num_masked
        banned = self.runner.banned_ids
        if not params.allow_pad:
            banned = torch.cat([banned, banned.new_tensor([self.special.pad])])
        generator = torch.Generator(device=self.runner.device).manual_seed(params.seed)
        guide = None
        if self.guide is not None and strategies.block_length_for(span_len, params.block_length, params.steps) == 1:
            key = request.cache_key if alone and params.reuse_context else None
            guide = self.guide.start(request.prefix_ids, span_len, key)
        return Row(request, layout, ids, start, state, generator, banned, should_stop, guide)

    def sequence(self, prefix_ids: list[int], span_len: int, suffix_ids: list[int]) -> tuple[list[int], int]:
        """The ids the model sees, in its family's framing (engine/models/prompt.py), and the span's
        first index: `[bos] prefix [mask] * span_len suffix` for stipple's own models."""
        prompt = self.runner.loaded.prompt
        if prompt is not None:
            return prompt.build(prefix_ids, span_len, self.special.mask, suffix_ids)
        head = [self.special.bos] if self.special.bos is not None else []
        return head + prefix_ids + [self.special.mask] * span_len + suffix_ids, len(head) + len(prefix_ids)

    def _context_cache(self, rows: list[Row], width: int):
        """A fresh cache for the run; for a single request of a known document, the positions its
        previous request shares with it come from that request's cache (engine/denoise/context_store.py)."""
        cache = self.runner.new_cache(width, batch=len(rows))
        row = rows[0]
        if len(rows) > 1 or not row.request.params.reuse_context:
            return cache, 0
        first = row.start - int(self.runner.loaded.args.shift_logits)
        stored, reuse = self.contexts.take(row.request.cache_key, row.ids, first)
        if stored is not None:
            cache.copy_prefix_from(stored.cache, reuse)
            row.request.reused_tokens = reuse
        return cache, reuse

    def _advance(self, row: Row, logits: torch.Tensor) -> None:
        """Make one row's span begin with the healed lead (engine/denoise/layout.py, engine/denoise/healing.py) and take
        one step; logits (1, L, V). A single line at a line start may not stay blank."""
        request, params, lead = row.request, row.request.params, row.layout.lead
        steps_left = params.steps - row.state.steps_done - 1
        if row.guide is not None and row.state.num_masked:
            logits = self._guided(row, logits)
        if lead:
            blank_rule = self.newline_first if params.mode == "single" and row.layout.line_start else None
            healing.constrain_span(logits, row.state, lead, self.vocabulary, steps_left == 0, blank_rule)
        before = row.state
        row.state = strategies.denoise_step(logits, row.state, params, self.special.pad, self.special.mask,
                                            row.banned, row.generator)
        row.state = healing.keep_lead(before, row.state, lead, self.vocabulary, self.special.pad, steps_left)
        if params.mode == "single" and not params.remask and self._line_settled(row):
            row.state = strategies.seal(row.state, self.special.pad)
        request.num_masked, request.steps_done = row.state.num_masked, row.state.steps_done

    def _guided(self, row: Row, logits: torch.Tensor) -> torch.Tensor:
        """Left to right: the next slot's logits mixed with the guide's next token after the prefix and the
        slots written so far (engine/denoise/guide.py); (1, L, V) -> (1, L, V) float."""
        slot = int(row.state.masked[0].int().argmax())
        written = row.state.span[0, :slot].tolist()
        logits = logits.float()  # a copy when the model runs in bf16; the slot's row is replaced below
        logits[0, slot] = self.guide.mix(logits[0, slot], self.guide.next_logprobs(row.guide, written),
                                         self.special.pad)
        return logits

    def _line_settled(self, row: Row) -> bool:
        """Single-line mode: the span's text is committed up to its first line break, so no later step
        can change what the caller gets (the completion is cut there)."""
        masked = row.state.masked[0]  # (L,)
        committed = int(masked.int().argmax()) if row.state.num_masked else masked.numel()
        text = self.tokenizer.decode(row.state.span[0, :committed].tolist())
        return text.startswith(row.layout.lead) and "\n" in body(text, row.layout)

    def _finish(self, rows: list[Row]) -> None:
        for row in rows:
            if row.request.status is RequestStatus.CANCELLED:
                continue
            request = row.request
            with request.stage("detokenize"):
                request.span_ids = row.state.span[0].tolist()
                text = self.tokenizer.decode(request.span_ids)
                request.text = completion(text, row.layout, request.params.mode)
                request.ended_line = ends_line_at_once(text, row.layout)
            request.status = RequestStatus.FINISHED

    @functools.cached_property
    def newline_first(self) -> torch.Tensor:
        return newline_first_mask(self.tokenizer, self.runner.loaded.args.vocab_size, self.runner.device)

    @functools.cached_property
    def vocabulary(self) -> healing.Vocabulary:
        return healing.Vocabulary(self.tokenizer.token_texts(self.runner.loaded.args.vocab_size), self.runner.device)

    def _tokenize(self, request: SpanRequest) -> Layout:
        prompt = self.runner.loaded.prompt
        framing = len(prompt.head) + len(prompt.tail) if prompt is not None else 1
        room = self.max_positions - min(request.params.span_tokens, self.config.max_span_tokens) - framing
        return fit_context(request, self.tokenizer, self.config, room)


def newline_first_mask(tokenizer, vocab_size: int, device: torch.device) -> torch.Tensor:
    """(V,) bool: tokens whose text starts with a newline."""
    texts = tokenizer.token_texts(vocab_size)
    return torch.tensor([t.startswith(("\n", "\r\n")) for t in texts], device=device)


def fit_context(request: SpanRequest, tokenizer, config: EngineConfig, room: int, suffix: bool = True) -> Layout:
    """Heal the cursor (engine/denoise/layout.py; params.heal_cursor) and cut request's prefix/suffix ids to
    `room` positions: the suffix gets at most a quarter and max_suffix_tokens, the prefix the rest up to
    max_prefix_tokens (its end kept). suffix=False leaves the suffix out (a prefix-only model)."""
    layout = heal(request.prefix, request.suffix, request.params.heal_cursor)
    if suffix:
        request.suffix_ids = tokenizer.encode(layout.suffix)[: min(config.max_suffix_tokens, room // 4)]
    prefix_budget = min(config.max_prefix_tokens, room - len(request.suffix_ids))
    prefix_ids = tokenizer.encode(layout.prefix)
    request.prefix_ids = prefix_ids[max(0, len(prefix_ids) - prefix_budget) :]
    return layout
