"""The latency harness: an LSP client that drives the real `stipple serve` as an editor would.

client.py (the client and its editor capabilities), workloads.py (holes from HumanEval-Infilling and
real files), session.py (typing, requests, cancellations -> samples), runner.py (servers per config,
interleaved rounds), report.py (figures and the rich table), plots.py (PNGs), trace.py (record/replay).
"""
