"""Roofline arithmetic for one denoising step: analytic FLOPs and bytes moved, and the machine's peaks.

A step of the engine is one forward pass over some rows (query positions) attending to some keys:
step 0 (and every refresh) computes the whole sequence, a cached step only the span's rows over the
context keys/values cached at the last refresh (engine/denoise/runner.py). What a step must cost is then

  FLOPs = sum over Linear layers of 2 * in * out * rows      (q/k/v/o, gate/up/down)
        + 2 * in * out * logit_rows                           (lm_head, only the kept rows)
        + layers * 4 * heads * head_dim * rows * keys          (QK^T and AV)
  bytes = every weight read once (the embedding table: only the rows looked up)
        + K/V read for every key and written for every computed row
        + activations: each Linear's input read and output written, SDPA's q read and output written

Norms, RoPE, softmax and the sampler are elementwise and left out: they move bytes the model above
does not count, so the "achieved" figures are a lower bound of what the hardware did. The scores
matrix of attention is assumed not to reach memory (flash-style); on CPU it may.

The peaks are measured, not looked up: the best of a few square matmuls in the model's dtype and the
best of a few large tensor copies (read + write), on the device and with the threads the engine uses.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass
class StepShape:
    """What one forward pass computed; read from the model's inputs and outputs by profile.py's hooks."""

    rows: int  # query positions computed per sequence (the whole sequence, or the span)
    keys: int  # key positions each row attends to
    logit_rows: int  # rows per sequence projected onto the vocabulary
    kind: str  # "full" (every position computed: step 0, a refresh, no cache) or "cached" (rows < keys)
    batch: int = 1  # sequences in the pass; weights are read once for all of them


@dataclass
class StepCost:
    flops: float
    bytes: float

    @property
    def intensity(self) -> float:
        """FLOPs per byte moved."""
        return self.flops / self.bytes if self.bytes else 0.0


@dataclass
class Peak:
    """Measured machine peaks: what a dense matmul and a big copy achieve here and now."""

    gflops: float
    gbps: float
    matmul_n: int
    copy_mb: float
    dtype: str

    @property
    def balance(self) -> float:
        """FLOPs per byte at the ridge point: below it a kernel is memory-bound."""
        return self.gflops / self.gbps

    def as_dict(self) -> dict:
        return {**asdict(self), "balance_flop_per_byte": round(self.balance, 2)}


class CostModel:
    """The analytic cost of a step for one Transformer (engine/models/transformer.py), from its modules."""

    def __init__(self, model: nn.Module) -> None:
        args = model.args
        layers = model.model.layers
        self.num_layers = len(layers)
        self.heads, self.kv_heads, self.head_dim = args.num_attention_heads, args.num_key_value_heads, args.head_dim
        self.hidden = args.hidden_size
        first = next(model.parameters())
        self.elem = first.element_size()
        self.linears = [(m.in_features, m.out_features) for m in layers.modules() if isinstance(m, nn.Linear)]
        self.head = (model.lm_head.in_features, model.lm_head.out_features)
        # Weights read once per step: every layer, the final norm, the head (tied or not, read once).
        self.weight_bytes = sum(p.numel() * p.element_size() for p in layers.parameters())
        self.weight_bytes += sum(p.numel() * p.element_size() for p in model.model.norm.parameters())
        self.weight_bytes += model.lm_head.weight.numel() * model.lm_head.weight.element_size()

    def step(self, shape: StepShape) -> StepCost:
        rows, keys, kept = shape.rows * shape.batch, shape.keys, shape.logit_rows * shape.batch
        linear = sum(2 * i * o for i, o in self.linears) * rows + 2 * self.head[0] * self.head[1] * kept
        attention = self.num_layers * 4 * self.heads * self.head_dim * rows * keys
        kv = self.num_layers * 2 * self.kv_heads * self.head_dim * (keys + rows) * self.elem
        activations = sum(i + o for i, o in self.linears) * rows * self.elem
        activations += self.num_layers * 2 * self.heads * self.head_dim * rows * self.elem
        activations += (self.head[0] + self.head[1]) * kept * self.elem
        embed_rows = rows * self.hidden * self.elem
        return StepCost(float(linear + attention), float(self.weight_bytes + embed_rows + kv + activations))


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _best_seconds(fn, device: torch.device, repeats: int) -> float:
    fn()  # warm-up: allocation, kernel selection
    synchronize(device)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        synchronize(device)
        best = min(best, time.perf_counter() - started)
    return best


@torch.inference_mode()
def measure_peak(device: torch.device, dtype: torch.dtype, repeats: int = 5) -> Peak:
    """Best-of-`repeats` matmul GFLOP/s and copy GB/s. Sized to take well under a second on a CPU core."""
    cuda = device.type == "cuda"
    n = 8192 if cuda else 1024
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    seconds = _best_seconds(lambda: torch.mm(a, b), device, repeats)
    gflops = 2 * n**3 / seconds / 1e9
    copy_bytes = (1 << 30) if cuda else (64 << 20)
    src = torch.empty(copy_bytes, dtype=torch.uint8, device=device).fill_(1)
    dst = torch.empty_like(src)
    seconds = _best_seconds(lambda: dst.copy_(src), device, repeats)
    gbps = 2 * copy_bytes / seconds / 1e9  # every byte read once and written once
    return Peak(round(gflops, 2), round(gbps, 2), n, copy_bytes / (1 << 20), str(dtype).removeprefix("torch."))


def roofline_row(cost: StepCost, seconds: float, peak: Peak) -> dict:
    """Achieved rates of one step against the roofline min(peak FLOP/s, intensity * peak B/s)."""
    achieved_gflops = cost.flops / seconds / 1e9 if seconds > 0 else 0.0
    achieved_gbps = cost.bytes / seconds / 1e9 if seconds > 0 else 0.0
    attainable = min(peak.gflops, cost.intensity * peak.gbps)
    return {"gflop": round(cost.flops / 1e9, 6), "mb": round(cost.bytes / 1e6, 4),
            "intensity": round(cost.intensity, 3), "bound": "memory" if cost.intensity < peak.balance else "compute",
            "gflops": round(achieved_gflops, 3), "gbps": round(achieved_gbps, 3),
            "of_peak_flops": round(achieved_gflops / peak.gflops, 4), "of_peak_bw": round(achieved_gbps / peak.gbps, 4),
            "of_roofline": round(achieved_gflops / attainable, 4) if attainable else 0.0}
