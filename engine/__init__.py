"""stipple's diffusion engine: models, sampler, and the Engine facade. Knows nothing of LSP.

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
