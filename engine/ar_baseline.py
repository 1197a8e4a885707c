"""ARCompleter: a pretrained model used plainly, left to right, from the prefix only.

The baseline that a CPU user would otherwise run (greedy, KV cache, last 512 tokens of context). For
a cursor at the start of a line, the prefix's trailing newline is dropped and the first token is
forced to begin with a newline: an instruct model otherwise opens a code fence.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from engine.kv_cache import KVCache
from engine.loader import load_model_dir


@dataclass
class ARResult:
    text: str
    steps_done: int
    timings_ms: dict[str, float] = field(default_factory=dict)


class ARCompleter:
    def __init__(self, model_dir: Path, device: str = "cpu", context_tokens: int = 512,
                 max_new_tokens: int = 48, add_bos: bool = False) -> None:
        self.loaded = load_model_dir(model_dir, device)
        if not self.loaded.args.shift_logits:
            raise ValueError(f"{model_dir}: an autoregressive baseline needs a next-token model")
        self.model, self.tokenizer = self.loaded.model, self.loaded.tokenizer
        self.device, self.context_tokens, self.max_new_tokens = device, context_tokens, max_new_tokens
        vocab = self.tokenizer.hf.get_vocab()
        newline_ids = [i for t, i in vocab.items() if self.tokenizer.decode([i]).startswith("\n")]
        self.newline_first = torch.tensor(sorted(newline_ids), device=device)
        self.stop_ids = {i for i in (self.tokenizer.special.eos,) if i is not None}
        # Plain text continuation by default: SmolLM2's "bos" is a chat-turn marker.
        self.add_bos = add_bos

    @torch.inference_mode()
    def complete(self, prefix: str, suffix: str = "", mode: str = "single") -> ARResult:
        """Greedy continuation of prefix; single mode returns one line (with its newline)."""
        started = time.perf_counter()
        at_line_start = prefix.endswith("\n")
        context = prefix[:-1] if at_line_start else prefix
        ids = self.tokenizer.encode(context)[-self.context_tokens :]
        if self.add_bos and self.tokenizer.special.bos is not None:
            ids = [self.tokenizer.special.bos] + ids
        cache = KVCache(self.loaded.args, 1, len(ids) + self.max_new_tokens + 1, self.device,
                        self.model.model.embed_tokens.weight.dtype)
        logits = self.model(torch.tensor([ids], device=self.device), causal=True, cache=cache)[0, -1]
        out: list[int] = []
        position = len(ids)
        while len(out) < self.max_new_tokens:
            if not out and at_line_start:
                allowed = torch.full_like(logits, float("-inf"))
                allowed[self.newline_first] = 0.0
                logits = logits + allowed
            token = int(logits.argmax())
            if token in self.stop_ids:
                break
            out.append(token)
            text = self.tokenizer.decode(out)
            body = text[1:] if at_line_start else text
            if mode == "single" and "\n" in body:
                break
            logits = self.model(torch.tensor([[token]], device=self.device), causal=True,
                                cache=cache, start=position)[0, -1]
            position += 1
        text = self.tokenizer.decode(out)
        if at_line_start:
            text = text[1:]
        if mode == "single":
            cut = text.find("\n")
            text = text[: cut + 1] if cut >= 0 else text + ("\n" if at_line_start else "")
        return ARResult(text, len(out), {"total": (time.perf_counter() - started) * 1000})
