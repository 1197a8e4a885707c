"""Tokenizer: a `tokenizers` tokenizer plus the named special tokens the engine needs.

User text is always encoded as plain text: a file that contains "<|mask|>" must not smuggle a mask
into the model, so special tokens are only ever inserted by id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import tokenizers

# tokenizer_config.json (transformers' layout) names each role's token by its text.
TOKENIZER_CONFIG_KEYS = {"mask": "mask_token", "pad": "pad_token", "bos": "bos_token", "eos": "eos_token"}

# Names under which each role is found in the vocabularies we load, in order of preference.
ROLE_NAMES: dict[str, tuple[str, ...]] = {
    "mask": ("<|mask|>", "<|mdm_mask|>", "<mask>", "[MASK]"),
    "pad": ("<|pad|>", "<pad>", "<|endoftext|>"),
    "bos": ("<|bos|>", "<s>", "<|startoftext|>", "<|im_start|>", "<|endoftext|>"),
    "eos": ("<|eos|>", "</s>", "<|endoftext|>", "<|im_end|>"),
    "fim_prefix": ("<|fim_prefix|>", "<fim_prefix>"),
    "fim_middle": ("<|fim_middle|>", "<fim_middle>"),
    "fim_suffix": ("<|fim_suffix|>", "<fim_suffix>"),
}


@dataclass(frozen=True)
class SpecialTokens:
    mask: int
    pad: int
    bos: int | None = None
    eos: int | None = None
    fim_prefix: int | None = None
    fim_middle: int | None = None
    fim_suffix: int | None = None

    @property
    def ids(self) -> frozenset[int]:
        return frozenset(v for v in vars(self).values() if v is not None)


class Tokenizer:
    def __init__(self, hf: tokenizers.Tokenizer, special: SpecialTokens) -> None:
        self.hf = hf
        self.special = special
        self._token_texts: tuple[str, ...] = ()
        # Treat special-token strings in user text as text (supported by tokenizers >= 0.15).
        if hasattr(self.hf, "encode_special_tokens"):
            self.hf.encode_special_tokens = True

    @classmethod
    def from_file(cls, path: Path, config: dict[str, Any] | None = None) -> Tokenizer:
        """tokenizer.json, with the roles named by config.json and a sibling tokenizer_config.json."""
        path = Path(path)
        try:
            hf = tokenizers.Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises plain Exception subclasses
            raise ValueError(f"{path}: cannot read tokenizer ({exc})") from exc
        declared = read_declared_tokens(path.parent / "tokenizer_config.json")
        return cls(hf, resolve_special_tokens(hf, config or {}, source=str(path), declared=declared))

    @property
    def vocab_size(self) -> int:
        return self.hf.get_vocab_size(with_added_tokens=True)

    def encode(self, text: str) -> list[int]:
        return self.hf.encode(text, add_special_tokens=False).ids

    def decode(self, ids: Sequence[int]) -> str:
        """Text of content ids; special ids (pad, mask, ...) are dropped."""
        keep = [i for i in ids if i not in self.special.ids]
        return self.hf.decode(keep, skip_special_tokens=False)

    def token_texts(self, count: int) -> tuple[str, ...]:
        """decode([i]) for i < count (a model's vocabulary may be padded past the tokenizer's), once."""
        if len(self._token_texts) < count:
            self._token_texts = tuple(self.decode([i]) for i in range(count))
        return self._token_texts[:count]

    def token_to_id(self, token: str) -> int | None:
        return self.hf.token_to_id(token)


def read_declared_tokens(path: Path) -> dict[str, str]:
    """role -> token text from a tokenizer_config.json; {} when the file is absent or unreadable."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    declared = {}
    for role, key in TOKENIZER_CONFIG_KEYS.items():
        value = data.get(key) if isinstance(data, dict) else None
        if isinstance(value, dict):  # a serialized AddedToken
            value = value.get("content")
        if isinstance(value, str) and value:
            declared[role] = value
    return declared


def resolve_special_tokens(
    hf: tokenizers.Tokenizer,
    config: dict[str, Any],
    source: str = "tokenizer",
    declared: dict[str, str] | None = None,
) -> SpecialTokens:
    """Ids from config.json's *_token_id fields first, then the token texts that
    tokenizer_config.json declares for each role, then well-known token names."""
    found: dict[str, int | None] = {}
    size = hf.get_vocab_size(with_added_tokens=True)
    for role, names in ROLE_NAMES.items():
        value = config.get(f"{role}_token_id")
        if isinstance(value, list):
            value = value[0] if value else None
        if value is not None and not (isinstance(value, int) and 0 <= value < size):
            raise ValueError(f"{source}: {role}_token_id {value!r} is not an id of this "
                             f"tokenizer (0..{size - 1})")
        if value is None and (declared or {}).get(role) is not None:
            value = hf.token_to_id(declared[role])
        if value is None:
            value = next((hf.token_to_id(n) for n in names if hf.token_to_id(n) is not None), None)
        found[role] = value
    missing = [role for role in ("mask", "pad") if found[role] is None]
    if missing:
        raise ValueError(
            f"{source}: no {' or '.join(missing)} token (set {missing[0]}_token_id in config.json)"
        )
    return SpecialTokens(**found)
