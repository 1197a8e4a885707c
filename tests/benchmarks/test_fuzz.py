"""The fuzzer's CI slice: a few hundred generated inputs and one 10 MB document of each kind against the
real server (benchmarks/fuzz.py runs 10,000; results in benchmarks/results/reliability/)."""

from __future__ import annotations

from benchmarks.fuzz import fuzz
from benchmarks.reliability.inputs import draw


def test_inputs_are_reproducible_and_cover_every_kind():
    first, again = draw(120, seed=3), draw(120, seed=3)
    assert [repr(x) for x in first] == [repr(x) for x in again]
    assert len({x.kind for x in first}) == 8


def test_every_request_is_answered_and_the_server_lives():
    report = fuzz(200, seed=1, heavy_mb=10, progress=None)
    assert report.crashed is None, report.crashed
    assert report.unanswered == [] and report.resync_failed == []
    assert report.requests == report.answered > 120
    assert report.inet_sockets == []  # nothing left the machine
    assert max(report.rss_mb) - report.rss_mb[0] < 400, report.rss_mb  # three 10 MB documents came and went
