"""The typing storm's CI slice (benchmarks/storm.py runs 1,000 requests; results in
benchmarks/results/reliability/): every request answered, none with a result for a stale document version,
the queue bounded by the documents open, memory flat. Latency is the benchmark's business."""

from __future__ import annotations

from benchmarks.storm import storm


def test_a_short_storm_is_answered_fresh_with_a_bounded_queue():
    report = storm(requests=60, rate=50, idle=3, settings={"debounceMs": 0, "steps": 8, "maxSpanTokens": 16},
                   progress=None)
    assert report.answered == report.requests == 60 and report.superseded == 54
    assert report.stale_results == 0
    assert report.max_in_flight <= 1 and report.max_waiting <= 10  # one document: one job runs; cancelled
    # ones wait at most until the worker's next pass (the full run saw 3)
    assert report.rss_after_mb - report.rss_before_mb < 50
