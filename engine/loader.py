"""Model directory (Hugging Face layout) <-> ModelArgs + Transformer + Tokenizer. safetensors only."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from engine.models import ModelArgs, Transformer
from engine.tokenizer import Tokenizer


class ModelDirError(ValueError):
    """A model directory is missing, incomplete or corrupt; the message says which file and why."""


@dataclass
class LoadedModel:
    args: ModelArgs
    model: Transformer
    tokenizer: Tokenizer
    path: Path


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """model.safetensors, or the shards named by model.safetensors.index.json."""
    single = path / "model.safetensors"
    index = path / "model.safetensors.index.json"
    try:
        if single.exists():
            return load_file(str(single))
        if index.exists():
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            state: dict[str, torch.Tensor] = {}
            for shard in shards:
                state.update(load_file(str(path / shard)))
            return state
    except (SafetensorError, OSError, KeyError, json.JSONDecodeError) as exc:
        raise ModelDirError(f"{path}: corrupt weights ({exc})") from exc
    raise ModelDirError(f"{path}: no model.safetensors or model.safetensors.index.json")


def load_model_dir(
    path: Path, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
) -> LoadedModel:
    path = Path(path)
    if not path.is_dir():
        raise ModelDirError(f"{path}: model directory does not exist")
    for name in ("config.json", "tokenizer.json"):
        if not (path / name).is_file():
            raise ModelDirError(f"{path}: missing {name}")
    try:
        args = ModelArgs.from_json(path / "config.json")
        config = json.loads((path / "config.json").read_text())
        tokenizer = Tokenizer.from_file(path / "tokenizer.json", config)
    except ValueError as exc:
        raise ModelDirError(str(exc)) from exc
    state = read_state_dict(path)
    with torch.device("meta"):
        model = Transformer(args)
    expected = {k: v.shape for k, v in model.state_dict().items()}
    if args.tie_word_embeddings:
        expected.pop("lm_head.weight", None)
        state.pop("lm_head.weight", None)
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ModelDirError(
            f"{path}: weights do not match config (missing {missing[:5]}, unexpected {unexpected[:5]})"
        )
    wrong = [(k, tuple(state[k].shape), tuple(s)) for k, s in expected.items() if state[k].shape != s]
    if wrong:
        raise ModelDirError(f"{path}: tensor shapes do not match config: {wrong[:5]}")
    model = model.to_empty(device=device)
    model.load_state_dict({k: v.to(dtype) for k, v in state.items()}, strict=False, assign=False)
    if args.tie_word_embeddings:
        model.lm_head.weight = model.model.embed_tokens.weight
    model = model.to(dtype).eval()
    if tokenizer.vocab_size > args.vocab_size:
        raise ModelDirError(f"{path}: tokenizer has {tokenizer.vocab_size} tokens, model {args.vocab_size}")
    return LoadedModel(args, model, tokenizer, path)


def save_model_dir(
    path: Path,
    args: ModelArgs,
    model: Transformer,
    tokenizer_json: str,
    dtype: torch.dtype = torch.float32,
) -> None:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.state_dict().items()}
    if args.tie_word_embeddings:
        state.pop("lm_head.weight", None)
    save_file(state, str(path / "model.safetensors"), metadata={"format": "pt"})
    (path / "config.json").write_text(json.dumps(args.to_dict(), indent=2) + "\n")
    (path / "tokenizer.json").write_text(tokenizer_json)
