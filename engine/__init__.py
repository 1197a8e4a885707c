"""stipple's diffusion engine. Knows nothing of LSP, editors or the benchmarks; imports neither package.

One room per concern: denoise/ (the denoising core: Engine, config, params, request, scheduler, runner,
caches, sampler and strategies, cursor healing), models/ (the transformer, its families and attention
layouts), weights/ (model directories: loading, tokenizer, adapters, the shipped models), kernels/
(Triton), edits/ (repair, regenerate, token scores), ar/ (the autoregressive comparisons), train/,
convert/ (GGUF), serve/ (Ray Serve), assets/ (the shipped models). cli.py holds the engine's subcommands.

`from engine import Engine, EngineConfig, DenoiseParams` is the public API; the names are resolved on
first use, so that importing a torch-free module (engine.denoise.params, engine.denoise.scheduler)
never pulls in torch.
"""

from __future__ import annotations

import importlib

_PUBLIC = {"Engine": "engine.denoise.engine", "EngineConfig": "engine.denoise.config",
           "DenoiseParams": "engine.denoise.params"}
__all__ = list(_PUBLIC)


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    return getattr(importlib.import_module(_PUBLIC[name]), name)
