"""AREngine: greedy left-to-right infilling with a KV cache, behind the diffusion Engine's interface.

Two ways to use an autoregressive model, for the diffusion-versus-autoregressive comparison:
- fim=True, the twin (`--completer ar-fim`): the prompt is `<fim_prefix> P <fim_suffix> S <fim_middle>`
  (engine/ar/fim.py) and the middle ends at eos (Bavarian et al. 2022);
- fim=False, the prefix-only baseline (`--completer ar-prefix`): the plain base continues the prefix
  and never sees the suffix.

Both share everything else with the diffusion Engine, so only the decoding differs: the same prefix
and suffix token budgets, the same token healing at the cursor (engine/denoise/layout.py, engine/denoise/healing.py: the
first tokens write back the prefix's last pre-token), the same rules for the first tokens of a line, span_tokens as the most tokens generated, and the same post-processing
(`completion`). `infill`, `generate(request, should_stop)` and `generate_batch` take and return
SpanRequests, so the CLI, the evaluation and the server's bridge run it unchanged; steps_done and
steps_ms count forward passes (the prefill, then one per token), what the bridge's step timings measure.
A batch is decoded one request after another, and no context is kept between requests (`forget`
has nothing to drop): the twin is the plain, well-understood autoregressive baseline.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence

import torch

from engine.ar.fim import FimTokens, fim_tokens, psm_ids
from engine.denoise.config import EngineConfig
from engine.denoise.engine import Cancelled, fit_context, newline_first_mask
from engine.denoise.healing import Vocabulary, lead_position
from engine.models.kv_cache import KVCache
from engine.denoise.layout import Layout, completion, ends_line_at_once, strip_lead
from engine.denoise.params import COMPLETERS, DenoiseParams
from engine.denoise.request import RequestStatus, SpanRequest
from engine.weights.loader import load_model_dir


class AREngine:
    def __init__(self, config: EngineConfig | None = None, fim: bool = False) -> None:
        self.config = config or EngineConfig()
        if self.config.num_threads:
            torch.set_num_threads(self.config.num_threads)
        self.device = torch.device(self.config.device)
        self.loaded = load_model_dir(self.config.model_dir, self.device, self.config.torch_dtype)
        if not self.loaded.args.shift_logits:
            raise ValueError(f"{self.config.model_dir}: left-to-right decoding needs a next-token "
                             "(shift_logits) model")
        self.model, self.tokenizer = self.loaded.model, self.loaded.tokenizer
        self.special = self.tokenizer.special
        self.max_positions = self.loaded.args.max_position_embeddings
        self.fim: FimTokens | None = fim_tokens(self.tokenizer) if fim else None
        # Any control token ends the text: eos (end of middle, end of document), a chat marker, or
        # a sentinel; none of them is code, and decode() would drop or spell them out.
        added = self.tokenizer.hf.get_added_tokens_decoder()
        self.stop_ids = frozenset(i for i, token in added.items() if token.special) | self.special.ids
        self.stop_mask = torch.zeros(self.loaded.args.vocab_size, dtype=torch.bool, device=self.device)  # (V,)
        self.stop_mask[sorted(i for i in self.stop_ids if i < self.loaded.args.vocab_size)] = True
        # An empty prefix is the start of a document, which follows eos in the training stream.
        self.document_start = self.special.eos if self.special.eos is not None else self.special.bos
        if self.fim is None and self.document_start is None:
            raise ValueError(f"{self.config.model_dir}: prefix-only decoding needs an eos or bos token")

    @functools.cached_property
    def newline_first(self) -> torch.Tensor:
        return newline_first_mask(self.tokenizer, self.loaded.args.vocab_size, self.device)

    @functools.cached_property
    def vocabulary(self) -> Vocabulary:
        return Vocabulary(self.tokenizer.token_texts(self.loaded.args.vocab_size), self.device)

    def infill(self, prefix: str, suffix: str, params: DenoiseParams | None = None) -> SpanRequest:
        return self.generate(SpanRequest(prefix, suffix, params or DenoiseParams()))

    def generate_batch(self, requests: Sequence[SpanRequest],
                       should_stop: Sequence[Callable[[], bool] | None] | None = None) -> list[SpanRequest]:
        """Each request in turn; a cancelled one ends CANCELLED (the diffusion Engine's contract)."""
        stops = list(should_stop) if should_stop is not None else [None] * len(requests)
        for request, stop in zip(requests, stops):
            try:
                self.generate(request, stop)
            except Cancelled:
                pass
        return list(requests)

    def forget(self, cache_key: str) -> None:
        """Nothing to drop: no context is kept between requests."""

    def prompt_ids(self, request: SpanRequest) -> tuple[Layout, list[int]]:
        """Heal the cursor, truncate as the diffusion Engine does, lay out the prompt."""
        room = self.max_positions - min(request.params.span_tokens, self.config.max_span_tokens) - 4
        layout = fit_context(request, self.tokenizer, self.config, room, suffix=self.fim is not None)
        if self.fim is not None:
            return layout, psm_ids(self.fim, request.prefix_ids, request.suffix_ids)
        return layout, request.prefix_ids or [self.document_start]

    @torch.inference_mode()
    def generate(self, request: SpanRequest, should_stop: Callable[[], bool] | None = None,
                 step_logits: list[torch.Tensor] | None = None) -> SpanRequest:
        """Greedy decoding of at most span_tokens tokens. Raises Cancelled if should_stop().

        step_logits, when given, collects each forward pass's last-position logits (V,) (for tests).
        """
        params = request.params
        request.status = RequestStatus.RUNNING
        with request.stage("tokenize"):
            layout, prompt = self.prompt_ids(request)
        limit = min(params.span_tokens, self.config.max_span_tokens)
        cache = KVCache(self.loaded.args, 1, len(prompt) + limit, self.device, self.config.torch_dtype)
        out: list[int] = []
        position = 0
        while len(out) < limit:
            if should_stop is not None and should_stop():
                request.status = RequestStatus.CANCELLED
                raise Cancelled(request.request_id)
            started = time.perf_counter()
            with request.stage("prefill" if position == 0 else "decode"):
                piece = prompt if position == 0 else out[-1:]
                ids = torch.tensor([piece], dtype=torch.long, device=self.device)  # (1, L)
                logits = self.model(ids, causal=True, cache=cache, start=position,
                                    keep=slice(-1, None))[0, -1]  # (V,)
                position += len(piece)
                request.steps_done += 1
                if step_logits is not None:
                    step_logits.append(logits.float().clone())
                token = int(self.constrain(logits, out, layout, params.mode).argmax())
            request.steps_ms.append((time.perf_counter() - started) * 1000)
            if token in self.stop_ids:
                break
            out.append(token)
            if params.mode == "single" and "\n" in self.body(out, layout):
                break
        with request.stage("detokenize"):
            request.span_ids = out
            request.num_masked = 0
            text = self.tokenizer.decode(out)
            request.text = completion(text, layout, params.mode)
            request.ended_line = ends_line_at_once(text, layout)
        request.status = RequestStatus.FINISHED
        return request

    def constrain(self, logits: torch.Tensor, out: list[int], layout: Layout, mode: str) -> torch.Tensor:
        """The diffusion Engine's rules, applied to the next token's logits.

        Until the healed lead (layout.lead) is written, the next token starts with what is left of it
        or covers part of it (engine/denoise/healing.py). A single line at a line start is not blank: until
        it has content, no token may break the line again or end it.
        """
        if not layout.lead:
            return logits
        at = lead_position(layout.lead, [self.vocabulary.texts[i] for i in out])
        if at.rest and not at.strayed:
            allowed = self.vocabulary.allowed(at.rest)
            return logits if allowed is None else logits.masked_fill(~allowed, float("-inf"))
        if mode == "single" and layout.line_start and not self.body(out, layout).strip():
            return logits.masked_fill(self.newline_first | self.stop_mask, float("-inf"))
        return logits

    def body(self, out: list[int], layout: Layout) -> str:
        """The generated text after the healed lead: where a single line ends at its newline."""
        return strip_lead(self.tokenizer.decode(out), layout.lead)


def build_engine(config: EngineConfig, completer: str = "diffusion"):
    """The engine behind a completer name: the diffusion Engine, the FIM twin, or the prefix-only base."""
    if completer not in COMPLETERS:
        raise ValueError(f"completer must be one of {COMPLETERS}, got {completer!r}")
    if completer == "diffusion":
        from engine.denoise.engine import Engine

        return Engine(config)
    return AREngine(config, fim=completer == "ar-fim")
