"""Kernel part: the kernel tests under pytest on the device, then agreement and timing of each kernel
against the torch route it replaces, at the shapes the decode part runs."""

from __future__ import annotations

import subprocess
import sys

import torch

from benchmarks.gpu_suite.timing import time_ms
from engine import kernels
from engine.kernels import span_attention, span_attention_reference, span_stats, span_stats_reference

TEST_FILES = ("tests/engine/kernels/test_kernels.py", "tests/engine/denoise/test_cuda_graphs.py")


def run_kernel_tests() -> dict:
    """pytest on the kernel tests (on a GPU machine they compare Triton and torch on the GPU)."""
    done = subprocess.run([sys.executable, "-m", "pytest", *TEST_FILES, "-q", "-p", "no:cacheprovider"],
                          capture_output=True, text=True, timeout=300)
    tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
    return {"passed": done.returncode == 0, "returncode": done.returncode, "tail": tail}


def compare(device: str, dtype: torch.dtype, rows: int, vocab: int, heads: int, kv_heads: int,
            head_dim: int, keys: int, use_triton: bool) -> dict:
    """Both kernels against their references at one shape: agreement and median times."""
    torch.manual_seed(0)
    logits = (torch.randn(rows, vocab, device=device) * 3).to(dtype)  # (L, V): a span's logits
    banned = torch.zeros(vocab, dtype=torch.bool, device=device)
    banned[:4] = True
    got = span_stats(logits, banned=banned, skip_id=5, use_triton=use_triton)
    want = span_stats_reference(logits, banned=banned, skip_id=5)
    stats = {
        "shape": [rows, vocab], "triton": use_triton,
        "top_id_agree": float((got.top_id == want.top_id).float().mean()),
        "max_abs_err": {name: float((getattr(got, name) - getattr(want, name)).abs().max())
                        for name in ("top_p", "second_p", "entropy", "lse")},
        "kernel_ms": time_ms(lambda: span_stats(logits, banned=banned, skip_id=5, use_triton=use_triton), device),
        "torch_ms": time_ms(lambda: span_stats_reference(logits, banned=banned, skip_id=5), device),
    }
    stats["ok"] = stats["top_id_agree"] == 1.0 and max(stats["max_abs_err"].values()) < 1e-3

    q = torch.randn(1, heads, rows, head_dim, device=device, dtype=dtype)  # (B, H, Lq, D)
    cache = torch.randn(2, 1, kv_heads, keys + 64, head_dim, device=device, dtype=dtype)  # k, v with spare slots
    k, v = cache[0][:, :, :keys], cache[1][:, :, :keys]  # (B, KV, T, D) prefixes, as the step reads them
    valid = torch.tensor([keys], device=device)
    out = span_attention(q, k, v, valid, use_triton=use_triton)
    ref = span_attention_reference(q, k, v, valid)
    sdpa = lambda: torch.nn.functional.scaled_dot_product_attention(  # noqa: E731  the model's own call
        q, k, v, enable_gqa=kv_heads != heads)
    attention = {
        "shape": {"q": list(q.shape), "kv": list(k.shape)}, "triton": use_triton,
        "max_abs_err": float((out.float() - ref.float()).abs().max()),
        "kernel_ms": time_ms(lambda: span_attention(q, k, v, valid, use_triton=use_triton), device),
        "sdpa_ms": time_ms(sdpa, device),
    }
    attention["ok"] = attention["max_abs_err"] < (2e-2 if dtype != torch.float32 else 1e-4)
    attention["faster_than_sdpa"] = attention["kernel_ms"] < attention["sdpa_ms"]
    return {"span_stats": stats, "span_attention": attention}


def run(device: str, dry_run: bool) -> dict:
    use_triton = kernels.available(device) and (device.startswith("cuda") or kernels.interpreting())
    if dry_run:
        result = {"tests": {"skipped": "dry-run"},
                  "shapes": [compare(device, torch.float32, 8, 256, 4, 2, 16, 64, use_triton)]}
    else:
        result = {"tests": run_kernel_tests(), "shapes": [
            compare(device, torch.bfloat16, 64, 151936, 12, 2, 128, 2112, use_triton),  # Qwen2-1.5B
            compare(device, torch.bfloat16, 64, 126464, 32, 32, 128, 2112, use_triton),  # LLaDA-8B
        ]}
    result["ok"] = all(s[k]["ok"] for s in result["shapes"] for k in s) and result["tests"].get("passed", True)
    return result
