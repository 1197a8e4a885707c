"""Model architectures, one file per family, and their shared ModelArgs."""

from engine.models.args import ModelArgs
from engine.models.transformer import Transformer

__all__ = ["ModelArgs", "Transformer"]
