"""Model directory (Hugging Face layout) <-> ModelArgs + Transformer + Tokenizer. safetensors only.

Loading never runs checkpoint code and never unpickles: config.json names the family
(engine/models/families.py), safetensors headers are checked against the architecture before any
tensor is read, the memory budget is checked next, and tensors then stream one at a time onto the
device into a module built on the meta device (peak host memory: one tensor, not a state dict).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from engine.models import ModelArgs, Transformer
from engine.models.families import IGNORED_SUFFIXES, Family, detect_family
from engine.models.prompt import InfillPrompt
from engine.weights.checkpoint import Checkpoint, ModelDirError
from engine.weights.memory import check_fits
from engine.weights.tokenizer import Tokenizer

__all__ = ["LoadedModel", "ModelDirError", "load_model_dir", "read_state_dict", "save_model_dir"]


@dataclass
class LoadedModel:
    args: ModelArgs
    model: Transformer
    tokenizer: Tokenizer
    path: Path
    family: Family | None = None
    prompt: InfillPrompt | None = None
    """The family's infill framing: `ids, start = prompt.build(prefix_ids, L, mask, suffix_ids)`."""


def read_config(path: Path) -> dict[str, Any]:
    try:
        config = json.loads((path / "config.json").read_text())
    except json.JSONDecodeError as exc:
        raise ModelDirError(f"{path / 'config.json'}: not valid JSON ({exc})") from exc
    if not isinstance(config, dict):
        raise ModelDirError(f"{path / 'config.json'}: not a JSON object")
    return config


def read_model_dir(path: Path) -> tuple[dict[str, Any], Family, ModelArgs, Tokenizer]:
    """config, family, architecture and tokenizer of a directory; no weights are read."""
    path = Path(path)
    if not path.is_dir():
        raise ModelDirError(f"{path}: model directory does not exist")
    for name in ("config.json", "tokenizer.json"):
        if not (path / name).is_file():
            raise ModelDirError(f"{path}: missing {name}")
    config = read_config(path)
    try:
        family = detect_family(config)
        args = family.to_args(config)
        tokenizer = Tokenizer.from_file(path / "tokenizer.json", {**config, **token_ids(args)})
    except (ValueError, TypeError) as exc:
        raise ModelDirError(f"{path}: {exc}") from exc
    if tokenizer.vocab_size > args.vocab_size:
        raise ModelDirError(f"{path}: tokenizer has {tokenizer.vocab_size} tokens, model {args.vocab_size}")
    return config, family, args, tokenizer


def token_ids(args: ModelArgs) -> dict[str, int]:
    return {f"{role}_token_id": getattr(args, f"{role}_token_id")
            for role in ("bos", "eos", "pad", "mask") if getattr(args, f"{role}_token_id") is not None}


def expected_shapes(args: ModelArgs) -> dict[str, tuple[int, ...]]:
    """Our parameter name -> shape, from a module built on the meta device (no memory)."""
    with torch.device("meta"):
        model = Transformer(args)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if args.tie_word_embeddings:
        shapes.pop("lm_head.weight", None)
    return shapes


def match_tensors(family: Family, args: ModelArgs, checkpoint: Checkpoint
                  ) -> tuple[dict[str, str], list[str]]:
    """(our name -> checkpoint name, problems): missing tensors, wrong shapes, wrong dtypes and
    tensors the architecture has no place for. Loading refuses if there is any problem."""
    plan, problems = {}, []
    for ours, shape in expected_shapes(args).items():
        theirs = family.checkpoint_name(ours)
        info = checkpoint.tensors.get(theirs)
        if info is None:
            problems.append(f"missing tensor {theirs} (shape {list(shape)})")
        elif info.shape != shape:
            problems.append(f"{theirs}: shape {list(info.shape)} in {info.file}, config implies {list(shape)}")
        elif info.dtype not in ("F32", "F16", "BF16"):
            problems.append(f"{theirs}: dtype {info.dtype} in {info.file}, expected F32, F16 or BF16")
        plan[ours] = theirs
    known = set(plan.values())
    if args.tie_word_embeddings:
        known.add(family.checkpoint_name("lm_head.weight"))  # tied: a saved copy is ignored
    problems += [f"unexpected tensor {name} in {checkpoint.tensors[name].file}"
                 for name in sorted(set(checkpoint.tensors) - known)
                 if not name.endswith(IGNORED_SUFFIXES)]
    return plan, problems


def load_model_dir(
    path: Path, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
) -> LoadedModel:
    path = Path(path)
    config, family, args, tokenizer = read_model_dir(path)
    checkpoint = Checkpoint.open(path)
    plan, problems = match_tensors(family, args, checkpoint)
    if problems:
        more = f" (and {len(problems) - 5} more; run `stipple models verify {path}`)" if len(problems) > 5 else ""
        raise ModelDirError(f"{path}: weights do not match config: {'; '.join(problems[:5])}{more}")
    check_fits(args.num_parameters, dtype, device, str(path))
    with torch.device("meta"):
        model = Transformer(args)
    with checkpoint.reader() as reader:
        for ours, theirs in plan.items():
            module_name, leaf = ours.rsplit(".", 1)
            module = model.get_submodule(module_name)
            setattr(module, leaf, torch.nn.Parameter(reader.read(theirs, device, dtype)))
    if args.tie_word_embeddings:
        model.lm_head.weight = model.model.embed_tokens.weight
    model.eval()
    try:
        prompt = family.prompt_layout(config, path).resolve(tokenizer, args.shift_logits)
    except ValueError as exc:
        raise ModelDirError(f"{path}: {exc}") from exc
    return LoadedModel(args, model, tokenizer, path, family, prompt)


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """model.safetensors, or the shards named by model.safetensors.index.json (whole, in memory)."""
    checkpoint = Checkpoint.open(Path(path))
    state: dict[str, torch.Tensor] = {}
    for file in checkpoint.files:
        state.update(load_file(str(Path(path) / file)))
    return state


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
