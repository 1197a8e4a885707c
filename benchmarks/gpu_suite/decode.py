"""Decode part: per-step time and tokens/s of the diffusion step against the autoregressive baseline.

Random weights at real shapes (benchmarks/gpu_suite/shapes.py) in bf16; a span of `span` slots after
`context` tokens. Diffusion runs the engine's own loop (strategies.denoise_step, K steps or until no
mask is left) over CudaGraphStep: one full pass, then cached span steps replayed from CUDA graphs.
The baseline decodes `span` tokens greedily with a KV cache after a causal prefill, each token a
one-row CudaGraphStep replay (and, for reference, the eager model call engine/ar/baseline.py makes).
Random weights are near-uniform, so the threshold rule commits only the schedule's floor: its step
count here is K, an upper bound of what a trained model takes.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import torch

from benchmarks.gpu_suite.shapes import model_args, random_model, weight_bytes
from benchmarks.gpu_suite.timing import sync, time_ms
from engine.denoise import strategies
from engine.denoise.cuda_graphs import CudaGraphStep
from engine.models.kv_cache import KVCache
from engine.denoise.params import DenoiseParams
from engine.denoise.runner import Runner


def diffusion_span_ms(model, step: CudaGraphStep, context: int, span: int, params: DenoiseParams,
                      device: str) -> tuple[float, int]:
    """Milliseconds and steps to complete one span with the engine's loop (sampler included)."""
    vocab = model.args.vocab_size
    mask_id, pad_id = vocab - 1, vocab - 2  # random weights: any two ids serve as the specials
    banned = torch.tensor([mask_id], device=device)
    generator = torch.Generator(device=device).manual_seed(0)
    ids = torch.randint(0, vocab - 2, (1, context + span), device=device, generator=generator)
    ids[:, context:] = mask_id
    state = strategies.initial_state(ids[:, context:].clone(), params)
    sync(device)
    wall = time.perf_counter()
    while state.num_masked and state.steps_done < params.steps:  # num_masked: the one sync per step
        ids[:, context:] = state.span
        logits = step.span_logits(ids, context, span, refresh=state.steps_done == 0)  # (1, L, V)
        state = strategies.denoise_step(logits, state, params, pad_id, mask_id, banned, generator)
    sync(device)
    return (time.perf_counter() - wall) * 1000, state.steps_done


def ar_span(model, step: CudaGraphStep, context: int, span: int, device: str, graphs: bool) -> torch.Tensor:
    """A causal prefill of `context` tokens and `span` greedy tokens (no early stop)."""
    ids = torch.randint(0, model.args.vocab_size, (1, context), device=device)
    if graphs:
        logits = model(ids, causal=True, cache=step.cache)[:, -1:]  # (1, 1, V)
        for position in range(context, context + span):
            token = logits[:, -1].argmax(-1, keepdim=True)  # (1, 1), stays on the device
            logits = step.forward_rows(token, position, position + 1)[:, :1]
    else:
        cache = KVCache(model.args, 1, context + span, device, model.lm_head.weight.dtype)
        logits = model(ids, causal=True, cache=cache)[:, -1:]
        for position in range(context, context + span):
            token = logits[:, -1].argmax(-1, keepdim=True)
            logits = model(token, causal=True, cache=cache, start=position)
    return logits


def run_shape(name: str, device: str, dtype: torch.dtype, context: int, span: int, steps: int,
              bandwidth_gbs: float, repeat: int) -> dict:
    args = model_args(name, max_positions=context + span + 64)
    model = random_model(args, device, dtype)
    total_bytes, read_bytes = weight_bytes(model)
    bound_ms = read_bytes / (bandwidth_gbs * 1e9) * 1000
    step = CudaGraphStep(model, capacity=context + span + 1, span_buckets=(1, span))
    with torch.inference_mode():
        ids = torch.randint(0, args.vocab_size, (1, context + span), device=device)
        refresh_ms = time_ms(lambda: step.span_logits(ids, context, span, refresh=True), device, repeat)
        cached_ms = time_ms(lambda: step.span_logits(ids, context, span, refresh=False), device, repeat * 3)
        graph_logits = step.span_logits(ids, context, span, refresh=False).float()
        # The engine's current eager path (Runner.span_logits over a KVCache) at the same step.
        runner = SimpleNamespace(model=model, loaded=SimpleNamespace(args=args))
        cache = KVCache(args, 1, context + span, device, dtype)
        Runner.span_logits(runner, ids, context, span, cache, True)
        eager_ms = time_ms(lambda: Runner.span_logits(runner, ids, context, span, cache, False), device, repeat)
        eager_logits = Runner.span_logits(runner, ids, context, span, cache, False).float()
        agree = float((graph_logits.argmax(-1) == eager_logits.argmax(-1)).float().mean())
        del cache
        runs = {}
        for strategy in ("confidence", "threshold"):
            params = DenoiseParams(steps=steps, strategy=strategy, span_tokens=span, threshold=0.9)
            diffusion_span_ms(model, step, context, span, params, device)  # warm-up
            times = [diffusion_span_ms(model, step, context, span, params, device) for _ in range(repeat)]
            ms = sorted(t for t, _ in times)[len(times) // 2]
            runs[strategy] = {"span_ms": round(ms, 3), "steps": times[0][1], "tokens_per_s": round(span / ms * 1000, 1)}
        ar = {}
        for graphs in (True, False):
            ms = time_ms(lambda: ar_span(model, step, context, span, device, graphs), device,
                         max(1, repeat // 2), warmup=1)
            ar["graphs" if graphs else "eager"] = {"span_ms": round(ms, 3), "tokens_per_s": round(span / ms * 1000, 1)}
        ar_step_ms = time_ms(lambda: step.forward_rows(ids[:, :1], context - 1, context), device, repeat * 3)
    best_ar = min(v["span_ms"] for v in ar.values())
    result = {
        "shape": name, "params": args.num_parameters, "param_bytes": total_bytes, "read_bytes": read_bytes,
        "context": context, "span": span, "steps": steps,
        "weight_read_bound_ms": round(bound_ms, 4),
        "refresh_ms": round(refresh_ms, 3), "cached_step_ms": round(cached_ms, 3),
        "cached_step_vs_bound": round(cached_ms / bound_ms, 2),
        "eager_cached_step_ms": round(eager_ms, 3), "graph_vs_eager_argmax_agree": agree,
        "diffusion": runs,
        "ar": {**ar, "step_ms": round(ar_step_ms, 3), "step_vs_bound": round(ar_step_ms / bound_ms, 2)},
        "speedup_vs_ar": {k: round(best_ar / v["span_ms"], 2) for k, v in runs.items()},
    }
    del step, model
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return result
