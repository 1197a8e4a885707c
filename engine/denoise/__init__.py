"""The denoising core: a fill-in-the-middle request in, its span filled by K parallel steps, text out.

engine.py (Engine, the facade: tokenize, lay out, denoise a batch, detokenize), config.py
(EngineConfig, one per process), params.py (DenoiseParams, one per request; torch-free), request.py
(SpanRequest and its status), scheduler.py (which requests share a forward pass; torch-free),
runner.py (the only code that touches the device), context_store.py / cuda_graphs.py (the context's
keys/values across keystrokes, and the captured cached step; the cache itself is models/kv_cache.py),
sampler.py and strategies.py (which slots a step commits), layout.py and healing.py (where the span
starts: the cursor healed, and the tokens that may open the span), guide.py (a next-token model's
view mixed into left-to-right decoding). `from engine import Engine,
EngineConfig, DenoiseParams` names the public three.
"""
