"""EngineBridge: concurrent documents share forward passes; cancel-previous; results match solo runs."""

from __future__ import annotations

import asyncio
import threading

import pytest

from lsp_server.bridge import EngineBridge
from lsp_server.settings import Settings
from lsp_server.span import SpanPlan

PLANS = {
    "file:///a.py": SpanPlan("def add(a, b):\n    total = a", "\n    return total\n", "single", 10, 4),
    "file:///b.py": SpanPlan("import os\n\npath = ", "\nprint(path)\n", "single", 10, 5),
    "file:///c.py": SpanPlan("class A:\n    def f(self):\n", "\n", "multi", 10, 4),
}


async def loaded_bridge(model_dir) -> EngineBridge:
    bridge = EngineBridge()
    # float32: batched rows must match solo runs, and bf16 rounds differently per matrix shape.
    await bridge.load(Settings(model=str(model_dir), dtype="float32", threads=1))
    assert bridge.ready, bridge.error
    return bridge


def hold_worker(bridge: EngineBridge) -> threading.Event:
    """Occupy the worker thread until the returned event is set, so that jobs queue up."""
    release = threading.Event()
    bridge._executor.submit(release.wait)
    return release


@pytest.mark.asyncio
async def test_concurrent_documents_share_a_batch_and_match_solo_runs(random_model_dir):
    bridge = await loaded_bridge(random_model_dir)
    solo = {uri: await bridge.complete(uri + "#solo", plan) for uri, plan in PLANS.items()}
    release = hold_worker(bridge)
    pending = [asyncio.ensure_future(bridge.complete(uri, plan)) for uri, plan in PLANS.items()]
    await asyncio.sleep(0.05)
    assert bridge.scheduler.num_waiting == 3
    release.set()
    results = dict(zip(PLANS, await asyncio.gather(*pending)))
    assert all(r.batch_size == 3 for r in results.values())
    assert {uri: r.text for uri, r in results.items()} == {uri: r.text for uri, r in solo.items()}
    assert all(len(r.steps_ms) == r.steps_done and r.queue_ms > 0 for r in results.values())
    bridge.shutdown()


@pytest.mark.asyncio
async def test_a_new_request_for_a_document_cancels_the_waiting_one(random_model_dir):
    bridge = await loaded_bridge(random_model_dir)
    release = hold_worker(bridge)
    uri, plan = next(iter(PLANS.items()))
    older = asyncio.ensure_future(bridge.complete(uri, plan))
    await asyncio.sleep(0.01)
    newer = asyncio.ensure_future(bridge.complete(uri, plan))
    await asyncio.sleep(0.01)
    release.set()
    assert await older is None
    result = await newer
    assert result is not None and result.batch_size == 1 and result.text == (await bridge.complete(uri, plan)).text
    bridge.shutdown()


@pytest.mark.asyncio
async def test_the_next_keystroke_reuses_the_documents_context(random_model_dir):
    bridge = await loaded_bridge(random_model_dir)
    uri, plan = "file:///long.py", SpanPlan("import os\nimport sys\n\n\ndef main(argv):\n    path = os.path.join(argv[0], 'x')\n    if ",
                                            ":\n        return 1\n", "single", 10, 4)
    first = await bridge.complete(uri, plan)
    typed = await bridge.complete(uri, SpanPlan(plan.prefix + "p", plan.suffix, "single", 10, 4))
    assert first.reused_tokens == 0 and typed.reused_tokens > 10
    bridge.forget(uri)
    again = await bridge.complete(uri, plan)
    assert again.reused_tokens == 0
    bridge.shutdown()
