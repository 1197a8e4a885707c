"""Model architectures, one file per family, their shared ModelArgs, the attention layouts and the
key/value cache the transformer writes (kv_cache.py)."""

from engine.models.args import ModelArgs
from engine.models.transformer import Transformer

__all__ = ["ModelArgs", "Transformer"]
