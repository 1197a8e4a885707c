"""Batched denoising equals running alone; a cancelled row leaves at once; context reuse across
keystrokes (engine/denoise/context_store.py)."""

from __future__ import annotations

import pytest
import torch

from engine.denoise.config import EngineConfig
from engine.denoise.context_store import ContextStore, common_prefix
from engine.denoise.engine import Engine
from engine.denoise.params import DenoiseParams
from engine.denoise.request import RequestStatus, SpanRequest

TASKS = [
    ("def add(a, b):\n    total = a\n", "\n    return total\n"),
    ("import os\n\n\ndef main(argv):\n    path = os.path.join(argv[0], 'x')\n    if ", ":\n        return 1\n"),
    ("x = ", ""),
    ("class Point:\n    def __init__(self, x, y):\n        self.x = x\n", "\n\n    def norm(self):\n        return 0\n"),
]


# float32 throughout: a batch must equal its rows run alone, and bf16 rounds differently per matrix shape.
@pytest.fixture(scope="module")
def engine(random_model_dir) -> Engine:
    return Engine(EngineConfig(model_dir=random_model_dir, dtype="float32"))


def requests(params: DenoiseParams) -> list[SpanRequest]:
    return [SpanRequest(prefix, suffix, params) for prefix, suffix in TASKS]


@pytest.mark.parametrize("params", [
    DenoiseParams(steps=6, span_tokens=10),
    DenoiseParams(steps=5, span_tokens=10, context_cache=False, strategy="margin"),
    DenoiseParams(steps=8, span_tokens=10, strategy="threshold", threshold=0.05, mode="single"),
])
def test_batch_equals_alone(engine: Engine, params: DenoiseParams):
    alone = [engine.generate(r) for r in requests(params)]
    batched = engine.generate_batch(requests(params))
    assert [r.span_ids for r in batched] == [r.span_ids for r in alone]
    assert [r.text for r in batched] == [r.text for r in alone]
    assert [r.steps_done for r in batched] == [r.steps_done for r in alone]
    assert all(r.status is RequestStatus.FINISHED and r.num_masked == 0 for r in batched)


def test_batched_logits_match_alone(engine: Engine):
    runner, params = engine.runner, DenoiseParams(steps=4, span_tokens=6)
    rows = [engine._prepare(r, None) for r in requests(params)[:2]]
    singles = [runner.span_logits(runner.tensor(row.ids), row.start, 6) for row in rows]  # (1, 6, V) each
    left = max(row.start for row in rows)
    width = left + max(len(row.ids) - row.start for row in rows)
    grid, valid = [], []
    for row in rows:
        pad = left - row.start
        grid.append([engine.special.pad] * pad + row.ids + [engine.special.pad] * (width - pad - len(row.ids)))
        valid.append([False] * pad + [True] * len(row.ids) + [False] * (width - pad - len(row.ids)))
    batched = runner.span_logits(runner.tensor(grid), left, 6, key_valid=torch.tensor(valid))  # (2, 6, V)
    for i, single in enumerate(singles):
        torch.testing.assert_close(batched[i : i + 1], single, atol=1e-4, rtol=1e-4)


def test_cancelled_row_leaves_and_the_others_are_unchanged(engine: Engine):
    params = DenoiseParams(steps=6, span_tokens=10)
    alone = [engine.generate(r) for r in requests(params)]
    calls = {"n": 0}

    def stop_at_third_step() -> bool:
        calls["n"] += 1
        return calls["n"] >= 3

    batch = requests(params)
    stops = [None, stop_at_third_step, None, None]
    done = engine.generate_batch(batch, stops)
    assert done[1].status is RequestStatus.CANCELLED and done[1].steps_done == 2
    assert [done[i].span_ids for i in (0, 2, 3)] == [alone[i].span_ids for i in (0, 2, 3)]


def test_mixed_span_lengths_are_refused(engine: Engine):
    mixed = [SpanRequest("a = ", "", DenoiseParams(span_tokens=8)), SpanRequest("b = ", "", DenoiseParams(span_tokens=9))]
    with pytest.raises(ValueError, match="equal span length"):
        engine.generate_batch(mixed)


def test_partial_refresh_over_an_identical_context_equals_a_full_pass(engine: Engine):
    runner = engine.runner
    ids = torch.randint(10, 500, (1, 30))
    cache = runner.new_cache(30)
    full = runner.span_logits(ids, 18, 6, cache, refresh=True)
    again = runner.span_logits(ids, 18, 6, cache, refresh=True, reuse_from=12)
    torch.testing.assert_close(again, full, atol=1e-5, rtol=1e-5)


def test_context_reuse_across_keystrokes(random_model_dir):
    engine = Engine(EngineConfig(model_dir=random_model_dir, min_reused_tokens=4, dtype="float32"))
    prefix, suffix = TASKS[3]
    params = DenoiseParams(steps=4, span_tokens=8)
    first = engine.generate(SpanRequest(prefix, suffix, params, cache_key="file:///a.py"))
    assert first.reused_tokens == 0
    # The same request again: every context position before the span is served from the store,
    # and the result is what a full pass gives (the stored keys/values are exact for equal ids).
    again = engine.generate(SpanRequest(prefix, suffix, params, cache_key="file:///a.py"))
    fresh = engine.generate(SpanRequest(prefix, suffix, params))
    shift = int(engine.runner.loaded.args.shift_logits)
    assert again.reused_tokens == 1 + len(again.prefix_ids) - shift
    assert again.span_ids == fresh.span_ids
    # A keystroke at the end of the prefix: the common part is reused, the rest recomputed.
    typed = engine.generate(SpanRequest(prefix + "        self.z", suffix, params, cache_key="file:///a.py"))
    assert 0 < typed.reused_tokens <= 1 + len(first.prefix_ids)
    assert typed.num_masked == 0 and typed.status is RequestStatus.FINISHED
    # Another document, or reuse switched off: nothing is reused.
    other = engine.generate(SpanRequest(prefix, suffix, params, cache_key="file:///b.py"))
    off = engine.generate(SpanRequest(prefix, suffix, DenoiseParams(steps=4, span_tokens=8, reuse_context=False),
                                      cache_key="file:///a.py"))
    assert other.reused_tokens == 0 and off.reused_tokens == 0


def test_context_store_keeps_the_most_recent_documents():
    store = ContextStore(capacity=2, min_reused=2)
    for key in ("a", "b", "c"):
        store.keep(key, [1, 2, 3], cache=object())
    assert list(store.entries) == ["b", "c"]
    entry, reuse = store.take("c", [1, 2, 9], limit=10)
    assert entry is not None and reuse == 2 and "c" not in store.entries
    assert store.take("b", [7, 2, 3], limit=10) == (None, 0)  # nothing in common
    assert store.take(None, [1], limit=1) == (None, 0)
    assert common_prefix([1, 2, 3], [1, 2]) == 2


def test_a_request_cancelled_after_its_prefill_leaves_its_context_for_the_next_keystroke(random_model_dir):
    from engine.denoise.engine import Cancelled

    engine = Engine(EngineConfig(model_dir=random_model_dir, min_reused_tokens=4, dtype="float32"))
    prefix, suffix = TASKS[3]
    params = DenoiseParams(steps=6, span_tokens=8)
    calls = {"n": 0}

    def stop_after_two_steps() -> bool:
        calls["n"] += 1
        return calls["n"] > 2

    with pytest.raises(Cancelled):
        engine.generate(SpanRequest(prefix, suffix, params, cache_key="doc"), stop_after_two_steps)
    typed = engine.generate(SpanRequest(prefix + "        self", suffix, params, cache_key="doc"))
    assert typed.reused_tokens > 0
    with pytest.raises(Cancelled):  # cancelled before any step: nothing worth keeping
        engine.generate(SpanRequest(prefix, suffix, params, cache_key="new"), lambda: True)
    assert "new" not in engine.contexts.entries
