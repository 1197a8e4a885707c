"""The open diffusion model families stipple loads, one declaration each, detected from config.json.

All of them are LLaMA-shaped (RMSNorm, RoPE, SwiGLU, GQA), so they share engine/models/
transformer.py; a family says how its config and tensor names map onto ModelArgs and our
parameter names, which logit convention it was trained with, and how an infill prompt is laid out.
No checkpoint code is ever imported or run (no trust_remote_code): the mapping is data.

- dream:       Dream-v0-7B, Dream-Coder-v0-7B, DiffuCoder-7B: Qwen2 weights, shifted logits.
- open-dcoder: Open-dCoder-0.5B: Qwen2.5-Coder weights (model_type qwen2), shifted logits.
- coda:        CoDA-1.7B: Qwen3 shapes (q_norm/k_norm, explicit head_dim), shifted logits.
- llada:       LLaDA-8B Base/Instruct: OLMo-style names and config, unshifted logits.
- stipple:     our own directories (config carries `shift_logits`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.models.args import ModelArgs
from engine.models.prompt import (LLADA_CHAT_HEAD, LLADA_CHAT_TAIL, QWEN_CHAT_HEAD, QWEN_CHAT_TAIL,
                                  PromptLayout)

# Checkpoint tensors that carry no weights (older Hugging Face exports save RoPE's table).
IGNORED_SUFFIXES = (".rotary_emb.inv_freq",)


def same_name(name: str) -> str:
    return name


@dataclass(frozen=True)
class Family:
    name: str
    summary: str
    matches: Callable[[dict[str, Any]], bool]
    to_args: Callable[[dict[str, Any]], ModelArgs]
    layout: PromptLayout
    chat_layout: PromptLayout | None = None
    checkpoint_name: Callable[[str], str] = field(default=same_name)
    """Our parameter name -> the checkpoint's tensor name."""

    def prompt_layout(self, config: dict[str, Any], path: Path | None = None) -> PromptLayout:
        """The chat layout for instruct checkpoints (named so by directory or `_name_or_path`)."""
        names = f"{path.name if path else ''} {config.get('_name_or_path', '')}".lower()
        if self.chat_layout is not None and "instruct" in names:
            return self.chat_layout
        return self.layout


def _names(config: dict[str, Any]) -> tuple[str, set[str]]:
    arch = config.get("architectures") or []
    auto = config.get("auto_map") or {}
    names = {str(a) for a in arch} | {str(v).rsplit(".", 1)[-1] for v in auto.values()}
    return str(config.get("model_type", "")).lower(), names


def _refuse(config: dict[str, Any], family: str, checks: dict[str, Any]) -> None:
    """Raise on config options our transformer does not implement (rather than load wrongly)."""
    for key, supported in checks.items():
        value = config.get(key, supported[0] if isinstance(supported, tuple) else supported)
        allowed = supported if isinstance(supported, tuple) else (supported,)
        if value not in allowed:
            raise ValueError(f"{family} config: {key}={value!r} is not supported "
                             f"(supported: {', '.join(map(repr, allowed))})")


QWEN_CHECKS = {"hidden_act": "silu", "rope_scaling": None, "use_sliding_window": False}


def _rope(config: dict[str, Any], family: str) -> dict[str, Any]:
    """transformers 5 writes RoPE as rope_parameters={rope_type, rope_theta}; older configs flat."""
    _refuse(config, family, QWEN_CHECKS)
    params = config.get("rope_parameters")
    if "rope_theta" in config or not isinstance(params, dict):
        return config
    _refuse(params, family, {"rope_type": ("default",)})
    return {**config, "rope_theta": params.get("rope_theta", 10000.0)}


def qwen2_args(config: dict[str, Any]) -> ModelArgs:
    """Qwen2 shapes: q/k/v biases unless the config says otherwise; trained with shifted logits."""
    config = _rope(config, "qwen2")
    return ModelArgs.from_dict({**config, "attention_bias": config.get("attention_bias", True),
                                "shift_logits": True})


def qwen3_args(config: dict[str, Any]) -> ModelArgs:
    config = _rope(config, "qwen3")
    return ModelArgs.from_dict({**config, "attention_bias": config.get("attention_bias", False),
                                "qk_norm": True, "shift_logits": True})


def llada_args(config: dict[str, Any]) -> ModelArgs:
    """LLaDA's OLMo-style config (d_model, n_layers, ...) -> ModelArgs."""
    _refuse(config, "llada", {
        "block_type": "llama", "activation_type": ("silu",), "layer_norm_type": "rms",
        "rope": True, "alibi": False, "attention_layer_norm": False, "include_bias": False,
        "input_emb_norm": False, "scale_logits": False, "block_group_size": 1,
        "layer_norm_with_affine": True, "bias_for_layer_norm": (False, None),
    })
    try:
        d_model, n_heads = config["d_model"], config["n_heads"]
        kv = 1 if config.get("multi_query_attention") else config.get("n_kv_heads") or n_heads
        hidden = config.get("mlp_hidden_size") or config.get("mlp_ratio", 4) * d_model
        args = dict(
            vocab_size=config.get("embedding_size") or config["vocab_size"],
            hidden_size=d_model, intermediate_size=hidden, num_hidden_layers=config["n_layers"],
            num_attention_heads=n_heads, num_key_value_heads=kv,
            max_position_embeddings=config.get("max_sequence_length", 4096),
            rms_norm_eps=config.get("rms_norm_eps", 1e-5), rope_theta=config.get("rope_theta", 10000.0),
            tie_word_embeddings=bool(config.get("weight_tying", False)),
            attention_bias=bool(config.get("include_qkv_bias", False)),
            model_type="llada", shift_logits=False,
        )
    except KeyError as exc:
        raise ValueError(f"llada config: missing {exc.args[0]!r}") from exc
    for role in ("bos", "eos", "pad", "mask"):
        if isinstance(config.get(f"{role}_token_id"), int):
            args[f"{role}_token_id"] = config[f"{role}_token_id"]
    return ModelArgs(**args)


# Our names (Hugging Face LLaMA's) -> LLaDA's, per module; the leaf (weight/bias) is kept.
LLADA_TOP = {"model.embed_tokens": "wte", "model.norm": "ln_f", "lm_head": "ff_out"}
LLADA_LAYER = {
    "self_attn.q_proj": "q_proj", "self_attn.k_proj": "k_proj", "self_attn.v_proj": "v_proj",
    "self_attn.o_proj": "attn_out", "input_layernorm": "attn_norm",
    "post_attention_layernorm": "ff_norm", "mlp.gate_proj": "ff_proj", "mlp.up_proj": "up_proj",
    "mlp.down_proj": "ff_out",
}
LAYER = re.compile(r"model\.layers\.(\d+)\.(.+)")


def llada_name(ours: str) -> str:
    module, leaf = ours.rsplit(".", 1)
    if module in LLADA_TOP:
        return f"model.transformer.{LLADA_TOP[module]}.{leaf}"
    match = LAYER.fullmatch(module)
    if match is None or match[2] not in LLADA_LAYER:
        raise KeyError(f"no LLaDA name for {ours}")
    return f"model.transformer.blocks.{match[1]}.{LLADA_LAYER[match[2]]}.{leaf}"


QWEN_CHAT = PromptLayout(chat_head=QWEN_CHAT_HEAD, chat_tail=QWEN_CHAT_TAIL)

FAMILIES: tuple[Family, ...] = (
    Family(
        "llada", "LLaDA (OLMo-style names, bidirectional, unshifted logits)",
        lambda c: _names(c)[0] == "llada" or "LLaDAModelLM" in _names(c)[1],
        llada_args, PromptLayout(bos="always"),
        PromptLayout(chat_head=LLADA_CHAT_HEAD, chat_tail=LLADA_CHAT_TAIL), llada_name,
    ),
    Family(
        "dream", "Dream / Dream-Coder / DiffuCoder (Qwen2 weights, bidirectional, shifted logits)",
        lambda c: _names(c)[0] == "dream" or "DreamModel" in _names(c)[1],
        qwen2_args, PromptLayout(bos="always", eos_after_suffix=True), QWEN_CHAT,
    ),
    Family(
        "coda", "CoDA (Qwen3 shapes, bidirectional, shifted logits)",
        lambda c: _names(c)[0] == "coda" or "CoDALanguageModel" in _names(c)[1],
        qwen3_args, PromptLayout(bos="if_needed"), QWEN_CHAT,
    ),
    Family(
        "stipple", "stipple's own layout (Qwen2/LLaMA names; config states shift_logits)",
        lambda c: "shift_logits" in c,
        ModelArgs.from_dict, PromptLayout(bos="always"),
    ),
    Family(
        "open-dcoder", "Open-dCoder (Qwen2.5-Coder weights, bidirectional, shifted logits)",
        lambda c: _names(c)[0] == "qwen2",
        qwen2_args, PromptLayout(bos="if_needed"), QWEN_CHAT,
    ),
)


def detect_family(config: dict[str, Any]) -> Family:
    """The family of a config.json (by model_type, architectures, auto_map); ValueError if none."""
    for family in FAMILIES:
        if family.matches(config):
            return family
    model_type, names = _names(config)
    raise ValueError(
        f"unsupported model (model_type {model_type or 'missing'!r}, architectures "
        f"{sorted(names) or 'missing'}); supported families: {', '.join(f.name for f in FAMILIES)}"
    )


def family_by_name(name: str) -> Family:
    return next(f for f in FAMILIES if f.name == name)
