"""The autoregressive comparisons: the same engine interface, decoded one token at a time.

twin.py (AREngine: greedy with a KV cache, either the FIM twin, `--completer ar-fim`, or a next-token
model from the prefix only, `--completer ar-prefix`; and build_engine, which picks the engine behind a
completer name), fim.py (the twin's sentinels and prefix-suffix-middle layout, shared with its
training objective), baseline.py (ARCompleter, the prefix-only baseline's original call shape).
"""
