"""LoRA adapters: what is trained on top of a frozen pretrained base, stored small, merged once.

An adapter holds low-rank updates W' = W + (alpha / r) * B @ A of the chosen linear layers (Hu et
al. 2021, eq. 3), the full RMSNorm weights, and the embedding rows of the special tokens the base
never trained (mask, pad). It is saved as safetensors shards small enough to travel separately.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from engine.models import Transformer

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
ADAPTER_CONFIG = "adapter_config.json"


class LoRALinear(nn.Module):
    def __init__(self, base: nn.Linear, rank: int, alpha: float) -> None:
        super().__init__()
        self.base = base
        self.scale = alpha / rank
        self.lora_A = nn.Parameter(torch.empty(rank, base.in_features, device=base.weight.device))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, rank, device=base.weight.device))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.lora_A.t().to(x.dtype)) @ self.lora_B.t().to(x.dtype) * self.scale

    def delta(self) -> torch.Tensor:
        return (self.lora_B.float() @ self.lora_A.float()) * self.scale  # (out, in)


def apply_lora(model: Transformer, rank: int, alpha: float, row_ids: list[int]) -> list[nn.Parameter]:
    """Freeze the base, wrap the target linears, unfreeze norms and the given embedding rows.

    Returns the trainable parameters. Gradients of the (tied) embedding are masked to row_ids.
    """
    for p in model.parameters():
        p.requires_grad_(False)
    for layer in model.model.layers:
        for parent in (layer.self_attn, layer.mlp):
            for name in LORA_TARGETS:
                if isinstance(getattr(parent, name, None), nn.Linear):
                    setattr(parent, name, LoRALinear(getattr(parent, name), rank, alpha))
    trainable = [p for n, p in model.named_parameters() if "lora_" in n]
    for name, p in model.named_parameters():
        if name.endswith("layernorm.weight") or name == "model.norm.weight":
            p.requires_grad_(True)
            trainable.append(p)
    embed = model.model.embed_tokens.weight
    embed.requires_grad_(True)
    rows = torch.zeros(embed.shape[0], 1, device=embed.device)
    rows[row_ids] = 1.0
    embed.register_hook(lambda grad: grad * rows.to(grad.dtype))
    model.adapter_meta = {"rank": rank, "alpha": alpha, "row_ids": list(row_ids)}
    return trainable + [embed]


def adapter_state(model: Transformer) -> dict[str, torch.Tensor]:
    state = {}
    for name, module in model.named_modules():
        if isinstance(module, LoRALinear):
            state[f"{name}.lora_A"] = module.lora_A.detach()
            state[f"{name}.lora_B"] = module.lora_B.detach()
    for name, p in model.named_parameters():
        if name.endswith("layernorm.weight") or name == "model.norm.weight":
            state[name] = p.detach()
    ids = model.adapter_meta["row_ids"]
    state["embed_rows"] = model.model.embed_tokens.weight.detach()[ids]
    return {k: v.to("cpu", torch.float32).contiguous() for k, v in state.items()}


def load_adapter_into(model: Transformer, config: dict, state: dict[str, torch.Tensor]) -> None:
    """Put a saved adapter (load_adapter) back into a model wrapped by apply_lora with the same rank: training
    continues from a shipped adapter whose checkpoint is gone."""
    meta = model.adapter_meta
    if (config["rank"], config["row_ids"]) != (meta["rank"], meta["row_ids"]):
        raise ValueError(f"adapter rank {config['rank']} / rows {config['row_ids']} do not match the model's "
                         f"{meta['rank']} / {meta['row_ids']}")
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in state.items():
            if name == "embed_rows":
                embed = model.model.embed_tokens.weight
                embed[meta["row_ids"]] = value.to(embed.device, embed.dtype)
            elif name in params:
                params[name].copy_(value.to(params[name].dtype))
            else:
                raise ValueError(f"adapter tensor {name} has no place in the model")


def merged_state(model: Transformer) -> dict[str, torch.Tensor]:
    """The plain Transformer state dict with every LoRA update folded into its base weight."""
    out = {}
    for name, value in model.state_dict().items():
        if ".lora_" in name:
            continue
        out[name.replace(".base.", ".")] = value
    for name, module in model.named_modules():
        if isinstance(module, LoRALinear):
            key = f"{name}.weight"
            out[key] = (module.base.weight.float() + module.delta().to(module.base.weight.device)).to(
                module.base.weight.dtype)
    return out


def save_adapter(path: Path, model: Transformer, info: dict, shard_bytes: int = 15_000_000,
                 dtype: torch.dtype = torch.bfloat16) -> list[Path]:
    """Write adapter shards (each under shard_bytes) and adapter_config.json; returns the shards."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("adapter-*.safetensors"):
        old.unlink()
    # Only the low-rank factors take the storage dtype: norms and embedding rows stay float32,
    # since bf16 rounding of a norm weight shifts every logit.
    state = {k: v.to(dtype) if ".lora_" in k else v for k, v in adapter_state(model).items()}
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for name in sorted(state):
        nbytes = state[name].numel() * state[name].element_size()
        if size + nbytes > shard_bytes and shards[-1]:
            shards.append({})
            size = 0
        shards[-1][name] = state[name]
        size += nbytes
    files = []
    for i, shard in enumerate(shards, 1):
        file = path / f"adapter-{i:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, str(file))
        files.append(file)
    config = {**model.adapter_meta, "dtype": str(dtype).removeprefix("torch."),
              "shards": [f.name for f in files], **info}
    (path / ADAPTER_CONFIG).write_text(json.dumps(config, indent=2) + "\n")
    return files


def load_adapter(path: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    path = Path(path)
    config_file = path / ADAPTER_CONFIG
    if not config_file.is_file():
        raise ValueError(f"{path}: no {ADAPTER_CONFIG}")
    config = json.loads(config_file.read_text())
    state: dict[str, torch.Tensor] = {}
    for shard in config["shards"]:
        if not (path / shard).is_file():
            raise ValueError(f"{path}: adapter shard {shard} is missing")
        state.update(load_file(str(path / shard)))
    return config, state


def merge_adapter(base: dict[str, torch.Tensor], config: dict, adapter: dict[str, torch.Tensor]
                  ) -> dict[str, torch.Tensor]:
    """Fold an adapter into a base state dict (Transformer parameter names)."""
    merged = dict(base)
    scale = config["alpha"] / config["rank"]
    for name, value in adapter.items():
        if name.endswith(".lora_A"):
            stem = name.removesuffix(".lora_A")
            B = adapter[f"{stem}.lora_B"].float()
            key = f"{stem}.weight"
            merged[key] = (base[key].float() + scale * (B @ value.float())).to(base[key].dtype)
        elif name.endswith("norm.weight"):
            merged[name] = value.to(base[name].dtype)
    embed = merged["model.embed_tokens.weight"].clone()
    embed[config["row_ids"]] = adapter["embed_rows"].to(embed.dtype)
    merged["model.embed_tokens.weight"] = embed
    if "lm_head.weight" in merged:
        merged["lm_head.weight"] = embed
    return merged
