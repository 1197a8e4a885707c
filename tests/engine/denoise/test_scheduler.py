"""The scheduler keeps books only: batches by key in arrival order, drops cancelled jobs, no torch."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

import pytest

from engine.denoise.scheduler import Scheduler


@dataclass
class Item:
    name: str
    batch_key: int
    cancelled: bool = False


def test_batches_share_a_key_in_arrival_order():
    scheduler = Scheduler(max_batch=2)
    items = [Item("a", 24), Item("b", 48), Item("c", 24), Item("d", 24), Item("e", 48)]
    for item in items:
        scheduler.add(item)
    assert [i.name for i in scheduler.next_batch()] == ["a", "c"]  # the oldest, then its kind, capped
    assert [i.name for i in scheduler.next_batch()] == ["b", "e"]
    assert [i.name for i in scheduler.next_batch()] == ["d"]
    assert scheduler.next_batch() == [] and scheduler.num_waiting == 0


def test_cancelled_items_never_run():
    scheduler = Scheduler()
    first, second = Item("a", 1, cancelled=True), Item("b", 1)
    scheduler.add(first)
    scheduler.add(second)
    assert scheduler.next_batch() == [second]
    scheduler.add(Item("c", 1, cancelled=True))
    assert scheduler.next_batch() == [] and scheduler.num_waiting == 0


def test_bad_batch_size():
    with pytest.raises(ValueError, match="max_batch"):
        Scheduler(0)


def test_no_torch_import():
    code = "import sys, engine.denoise.scheduler; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
