"""What a model directory is and whether it is whole: `stipple models info` and `models verify`.

Both read only config.json, the tokenizer files and the safetensors headers, never tensor data, so
they answer in milliseconds for a 16 GB checkpoint and tell before a long load whether it can work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from engine.denoise.config import default_dtype
from engine.weights.checkpoint import Checkpoint, ModelDirError
from engine.weights.loader import match_tensors, read_model_dir
from engine.weights.memory import GiB, available_bytes, bytes_needed

TORCH_DTYPES = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}


def default_placement(device: str = "auto") -> tuple[str, torch.dtype]:
    """The device and dtype a plain `stipple serve` would use (engine.denoise.config.default_dtype)."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return device, getattr(torch, default_dtype(device))


def describe(path: Path, device: str = "auto") -> dict[str, Any]:
    """Family, size, dtype, memory and fit of a model directory (ModelDirError if unreadable)."""
    path = Path(path)
    config, family, args, tokenizer = read_model_dir(path)
    device, dtype = default_placement(device)
    need, free = bytes_needed(args.num_parameters, dtype), available_bytes(device)
    info: dict[str, Any] = {
        "path": str(path),
        "family": family.name,
        "description": family.summary,
        "layout": "chat" if family.prompt_layout(config, path).chat_head else "plain",
        "parameters": args.num_parameters,
        "layers": args.num_hidden_layers,
        "hidden_size": args.hidden_size,
        "heads": f"{args.num_attention_heads} query, {args.num_key_value_heads} key/value, dim {args.head_dim}",
        "vocab_size": args.vocab_size,
        "logits": "shifted (position i-1 predicts token i)" if args.shift_logits else "aligned",
        "special_tokens": {role: getattr(tokenizer.special, role)
                           for role in ("mask", "pad", "bos", "eos")},
        "device": device,
        "load_dtype": str(dtype).removeprefix("torch."),
        "memory_needed_bytes": need,
        "memory_free_bytes": free,
        "fits": None if free is None else need <= free,
    }
    try:
        checkpoint = Checkpoint.open(path)
        dtypes = checkpoint.dtypes()
        info["checkpoint_dtype"] = ", ".join(TORCH_DTYPES.get(d, d) for d in sorted(dtypes, key=dtypes.get,
                                                                                      reverse=True))
        info["checkpoint_bytes"] = checkpoint.num_bytes
        info["checkpoint_files"] = len(checkpoint.files)
    except ModelDirError as exc:
        info["checkpoint_error"] = str(exc)
    return info


def size(num_bytes: int | None) -> str:
    if num_bytes is None:
        return "unknown"
    return f"{num_bytes / GiB:.2f} GiB" if num_bytes >= GiB // 4 else f"{num_bytes / 2**20:.1f} MiB"


def format_info(info: dict[str, Any]) -> str:
    shown = {k: v for k, v in info.items() if not k.startswith("memory_") and k != "fits"}
    shown["parameters"] = f"{info['parameters'] / 1e9:.3f}B ({info['parameters']:,})"
    shown["special_tokens"] = ", ".join(f"{k} {v}" for k, v in info["special_tokens"].items())
    if "checkpoint_bytes" in shown:
        shown["checkpoint_bytes"] = size(info["checkpoint_bytes"])
    shown["memory_needed"] = f"{size(info['memory_needed_bytes'])} ({info['load_dtype']} weights + working memory)"
    fits = "unknown" if info["fits"] is None else "yes" if info["fits"] else "NO"
    shown["fits"] = f"{fits} ({size(info['memory_free_bytes'])} free on {info['device']})"
    rows = list(shown.items())
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


@dataclass
class Verdict:
    path: Path
    family: str | None = None
    tensors_checked: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(path: Path) -> Verdict:
    """Every tensor's presence, shape and dtype against the config; files whole; tokens found."""
    path = Path(path)
    verdict = Verdict(path)
    try:
        config, family, args, tokenizer = read_model_dir(path)
    except ModelDirError as exc:
        verdict.problems.append(str(exc))
        return verdict
    verdict.family = family.name
    try:
        checkpoint = Checkpoint.open(path)
    except ModelDirError as exc:
        verdict.problems.append(str(exc))
        return verdict
    _, problems = match_tensors(family, args, checkpoint)
    verdict.problems += problems
    verdict.notes += checkpoint.problems
    verdict.tensors_checked = len(checkpoint.tensors)
    try:
        family.prompt_layout(config, path).resolve(tokenizer, args.shift_logits)
    except ValueError as exc:
        verdict.problems.append(f"infill prompt: {exc}")
    return verdict


def format_verdict(verdict: Verdict) -> str:
    head = (f"{verdict.path}: OK ({verdict.family}, {verdict.tensors_checked} tensors checked)"
            if verdict.ok else f"{verdict.path}: {len(verdict.problems)} problem(s)"
            + (f" ({verdict.family})" if verdict.family else ""))
    lines = [head] + [f"  error: {p}" for p in verdict.problems] + [f"  note: {n}" for n in verdict.notes]
    return "\n".join(lines)
