"""The suite's Markdown summary, with each figure next to its target (issue #10, on an H100)."""

from __future__ import annotations

TARGET_TOKENS_PER_S = 1500  # 1.5B shape, batch 1, 64-token span, K = 32
TARGET_BOUND_RATIO = 1.5  # each cached step within 1.5x of its weight-read bound
TARGET_SERVER_P50_MS = 15.0
TARGET_SPEEDUP_VS_AR = 3.0


def render(result: dict) -> str:
    lines = [f"# GPU suite{' (dry run: tiny shapes on the CPU, not a measurement)' if result['dry_run'] else ''}",
             "", f"Device: {result['device_name']}; memory bandwidth (copy, read + write): "
             f"{result['bandwidth_gbs']:.0f} GB/s; recorded {result['recorded']}.", ""]
    kernels = result.get("kernels")
    if kernels:
        tests = kernels["tests"]
        verdict = tests.get("skipped") or ("passed" if tests.get("passed") else f"FAILED: {tests.get('tail')}")
        lines += ["## Kernels", "", f"Kernel tests (pytest on the device): {verdict}", "",
                  "| kernel | shape | agrees | kernel ms | torch ms |", "|---|---|---|---|---|"]
        for shape in kernels["shapes"]:
            s, a = shape["span_stats"], shape["span_attention"]
            lines.append(f"| span_stats ({'triton' if s['triton'] else 'torch'}) | {s['shape']} | {s['ok']} | "
                         f"{s['kernel_ms']:.3f} | {s['torch_ms']:.3f} |")
            lines.append(f"| span_attention ({'triton' if a['triton'] else 'torch'}) | q {a['shape']['q']} kv "
                         f"{a['shape']['kv']} | {a['ok']} | {a['kernel_ms']:.3f} | {a['sdpa_ms']:.3f} (SDPA) |")
        lines.append("")
    decode = result.get("decode")
    if decode:
        lines += ["## Diffusion step vs autoregressive baseline", "",
                  "Random weights, bf16, batch 1; `bound` = bytes a pass reads / measured bandwidth.", "",
                  "| shape | bound ms | cached step ms (x bound) | eager step ms | refresh ms | K=32 span ms | "
                  "tok/s | threshold tok/s | AR span ms | AR step ms (x bound) | speedup vs AR |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in decode:
            d, t, ar = r["diffusion"]["confidence"], r["diffusion"]["threshold"], r["ar"]
            ar_ms = min(ar["graphs"]["span_ms"], ar["eager"]["span_ms"])
            lines.append(f"| {r['shape']} | {r['weight_read_bound_ms']:.3f} | {r['cached_step_ms']:.3f} "
                         f"({r['cached_step_vs_bound']}x) | {r['eager_cached_step_ms']:.3f} | {r['refresh_ms']:.2f} | "
                         f"{d['span_ms']:.1f} | {d['tokens_per_s']:.0f} | {t['tokens_per_s']:.0f} | {ar_ms:.1f} | "
                         f"{ar['step_ms']:.3f} ({ar['step_vs_bound']}x) | {r['speedup_vs_ar']['confidence']}x |")
        lines.append("")
    server = result.get("server")
    if server:
        lines += ["## Real server, default model", ""]
        if "latency" in server:
            row = server["latency"]["all"]
            lines.append(f"p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms over {row['n']} requests "
                         f"(step p50 {server['step_ms'].get('p50_ms')} ms).")
        else:
            lines.append(f"Not measured: {server}")
        lines.append("")
    lines += ["## Targets (H100)", "", "| target | measured | met |", "|---|---|---|"]
    for name, measured, met in targets(result):
        lines.append(f"| {name} | {measured} | {met} |")
    return "\n".join(lines) + "\n"


def targets(result: dict) -> list[tuple[str, str, str]]:
    rows = []
    by_shape = {r["shape"]: r for r in result.get("decode") or []}
    if "qwen2-1.5b" in by_shape:
        r = by_shape["qwen2-1.5b"]
        tps = r["diffusion"]["confidence"]["tokens_per_s"]
        rows.append((f"1.5B, K=32: >= {TARGET_TOKENS_PER_S} tok/s", f"{tps:.0f}", _yes(tps >= TARGET_TOKENS_PER_S)))
        ratio = r["cached_step_vs_bound"]
        rows.append((f"1.5B cached step <= {TARGET_BOUND_RATIO}x bound", f"{ratio}x", _yes(ratio <= TARGET_BOUND_RATIO)))
        speed = r["speedup_vs_ar"]["confidence"]
        rows.append((f"1.5B diffusion vs AR >= {TARGET_SPEEDUP_VS_AR}x", f"{speed}x", _yes(speed >= TARGET_SPEEDUP_VS_AR)))
    server = result.get("server") or {}
    if "latency" in server:
        p50 = server["latency"]["all"]["p50_ms"]
        rows.append((f"server p50 <= {TARGET_SERVER_P50_MS} ms", f"{p50} ms", _yes(p50 <= TARGET_SERVER_P50_MS)))
    return rows


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"
