"""The autoregressive prefix-only baseline: cached greedy decoding, one line in single mode."""

from __future__ import annotations

import torch

from engine.ar.baseline import ARCompleter
from engine.denoise.layout import heal


def naive_greedy(completer: ARCompleter, ids: list[int], n: int, layout) -> list[int]:
    out = []
    for _ in range(n):
        logits = completer.model(torch.tensor([ids + out]), causal=True)[0, -1]
        out.append(int(completer.engine.constrain(logits, out, layout, "multi").argmax()))
    return out


def test_cached_decoding_equals_naive_greedy(random_model_dir):
    completer = ARCompleter(random_model_dir, max_new_tokens=6)
    result = completer.complete("x = compute(", mode="multi")
    layout = heal("x = compute(", "")
    ids = completer.tokenizer.encode(layout.prefix)
    expected = naive_greedy(completer, ids, result.steps_done, layout)
    assert completer.tokenizer.decode(expected) == layout.lead + result.text


def test_single_line_at_line_start_is_one_line(random_model_dir):
    completer = ARCompleter(random_model_dir, max_new_tokens=12)
    text = completer.complete("def f():\n", mode="single").text
    assert text.endswith("\n") and text.count("\n") == 1
