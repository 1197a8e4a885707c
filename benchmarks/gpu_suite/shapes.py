"""Model shapes measured by the suite (published configs; random weights) and how to build them fast."""

from __future__ import annotations

import torch

from engine.models.args import ModelArgs
from engine.models.transformer import Transformer

# Qwen2-0.5B / 1.5B / 7B (Qwen/Qwen2-*/config.json) and LLaDA-8B (GSAI-ML/LLaDA-8B-Base: d_model 4096,
# n_layers 32, n_heads = n_kv_heads = 32, mlp_hidden_size 12288, vocab 126464, untied, rope 5e5).
SHAPES: dict[str, dict] = {
    "qwen2-0.5b": dict(hidden_size=896, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
                       intermediate_size=4864, vocab_size=151936, tie_word_embeddings=True,
                       attention_bias=True, rope_theta=1e6),
    "qwen2-1.5b": dict(hidden_size=1536, num_hidden_layers=28, num_attention_heads=12, num_key_value_heads=2,
                       intermediate_size=8960, vocab_size=151936, tie_word_embeddings=True,
                       attention_bias=True, rope_theta=1e6),
    "qwen2-7b": dict(hidden_size=3584, num_hidden_layers=28, num_attention_heads=28, num_key_value_heads=4,
                     intermediate_size=18944, vocab_size=152064, tie_word_embeddings=False,
                     attention_bias=True, rope_theta=1e6),
    "llada-8b": dict(hidden_size=4096, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32,
                     intermediate_size=12288, vocab_size=126464, tie_word_embeddings=False,
                     attention_bias=False, rope_theta=5e5),
}
# --dry-run: the same code at a size the CPU runs in a second.
DRY_SHAPES: dict[str, dict] = {
    "tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                 intermediate_size=128, vocab_size=512, tie_word_embeddings=True, attention_bias=True),
}


def model_args(name: str, max_positions: int) -> ModelArgs:
    shape = {**SHAPES, **DRY_SHAPES}[name]
    return ModelArgs(**shape, max_position_embeddings=max_positions, model_type=name)


def random_model(args: ModelArgs, device: str, dtype: torch.dtype) -> Transformer:
    """Random weights built on the device in `dtype` (an 8B model in seconds, no host copy)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            torch.manual_seed(0)
            model = Transformer(args)
    finally:
        torch.set_default_dtype(previous)
    return model.eval().requires_grad_(False)


def weight_bytes(model: Transformer) -> tuple[int, int]:
    """(all parameter bytes, bytes one forward pass reads): an untied embedding is only gathered from."""
    seen, total = set(), 0
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            total += p.numel() * p.element_size()
    embed = model.model.embed_tokens.weight
    gathered = 0 if model.args.tie_word_embeddings else embed.numel() * embed.element_size()
    return total, total - gathered
