"""engine/serve/worker.py and steps.py: a replica's batching, cancellation and per-step text (no Ray)."""

from __future__ import annotations

import asyncio

import pytest

from engine.denoise.config import EngineConfig
from engine.denoise.layout import heal
from engine.denoise.params import DenoiseParams
from engine.denoise.request import SpanRequest
from engine.serve.steps import StepHookEngine, settled_text
from engine.serve.worker import EngineWorker


@pytest.fixture(scope="module")
def engine(random_model_dir):
    return StepHookEngine(EngineConfig(model_dir=random_model_dir, device="cpu", dtype="float32"))


def request(prefix: str = "def add(a, b):\n    return ", steps: int = 8, span: int = 16) -> SpanRequest:
    return SpanRequest(prefix, "\n", DenoiseParams(steps=steps, span_tokens=span))


def test_requests_arriving_together_share_a_batch(engine):
    worker = EngineWorker(engine, max_batch=8)

    async def main():
        return await asyncio.gather(*(worker.run(request(f"x{i} = ")) for i in range(4)))

    results = asyncio.run(main())
    assert all(result is not None for result in results)
    assert max(size for _, size in results) > 1  # the first runs alone, the others wait and batch
    assert worker.counters.finished == 4 and worker.counters.cancelled == 0
    alone = engine.generate(request("x3 = "))
    assert results[3][0].text == alone.text  # batching changes nothing in the answer


def test_a_caller_that_goes_away_stops_between_steps(engine):
    worker = EngineWorker(engine)
    steps_seen = []
    long = request(steps=200, span=200)
    engine.listen(long.request_id, lambda steps, text: steps_seen.append(steps))

    async def main():
        task = asyncio.ensure_future(worker.run(long))
        while not steps_seen:
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        while worker.counters.cancelled == 0:
            await asyncio.sleep(0.005)

    asyncio.run(main())
    engine.listen(long.request_id, None)
    assert 0 < long.steps_done < 200
    assert worker.counters.cancelled == 1


def test_a_deadline_stops_the_request(engine):
    worker = EngineWorker(engine)
    assert asyncio.run(worker.run(request(steps=200, span=200), timeout_s=1e-6)) is None


def test_each_step_reports_the_settled_text_growing(engine):
    seen: list[tuple[int, str]] = []
    r = request(prefix="import os\n", steps=8, span=16)
    engine.listen(r.request_id, lambda steps, text: seen.append((steps, text)))
    engine.generate(r)
    engine.listen(r.request_id, None)
    assert [steps for steps, _ in seen] == list(range(1, r.steps_done + 1))
    assert r.text.startswith(seen[-1][1]) or r.params.mode == "single"


@pytest.mark.parametrize("text, prefix, mode, settled", [
    ("    return a", "def f(a):\n", "multi", "    return a"),
    (" a + b\nnext", "return", "single", " a + b"),
    ("ar", "x = circle_ar", "multi", ""),  # still writing the healed lead back: nothing settled yet
])
def test_settled_text(text, prefix, mode, settled):
    assert settled_text(text, heal(prefix, "", True), mode) == settled
