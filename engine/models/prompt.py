"""InfillPrompt: the token ids a model family expects around a fill-in-the-middle request.

Each family was trained on its own framing: Dream-style infilling puts bos before the prefix and eos
after the suffix, LLaDA always starts with its bos, instruct models wrap everything in their chat
template. A `PromptLayout` declares that framing in token *names* and text; `resolve` turns it
into ids for one tokenizer once, at load time, and `build` lays out each request:

    head + prefix + [mask] * span + suffix + tail

Template text is encoded as plain text and special tokens are inserted by id, as everywhere else
(engine/weights/tokenizer.py), so nothing in user code can forge a chat turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.weights.tokenizer import Tokenizer

# A template piece: ("special", token text) inserted by id, or ("text", s) encoded as text.
Piece = tuple[str, str]

INFILL_INSTRUCTION = "Complete the missing code between the given prefix and suffix."


@dataclass(frozen=True)
class PromptLayout:
    bos: str = "always"
    """"always": bos before the prefix; "never"; "if_needed": only when the model's logits are
    shifted and nothing else precedes the span (position 0 has no predictor)."""
    eos_after_suffix: bool = False
    """End the sequence with eos, as the family's reference infilling code does."""
    chat_head: tuple[Piece, ...] = ()
    """Instruct models: the chat turns before the code (the code is the assistant's reply)."""
    chat_tail: tuple[Piece, ...] = ()
    """Instruct models: what closes the assistant's reply after the suffix."""

    def resolve(self, tokenizer: Tokenizer, shift_logits: bool) -> InfillPrompt:
        special = tokenizer.special
        head: list[int] = []
        if self.chat_head:
            head = encode_pieces(tokenizer, self.chat_head)
        elif self.bos == "always" and special.bos is not None:
            head = [special.bos]
        tail = encode_pieces(tokenizer, self.chat_tail) if self.chat_tail else []
        if self.eos_after_suffix and not self.chat_tail and special.eos is not None:
            tail = [special.eos]
        # A shifted model scores slot i from position i-1: something must precede the span.
        filler = None
        if shift_logits and not head:
            filler = next((t for t in (special.bos, special.eos, special.pad) if t is not None), None)
        return InfillPrompt(tuple(head), tuple(tail), filler)


def encode_pieces(tokenizer: Tokenizer, pieces: tuple[Piece, ...]) -> list[int]:
    ids: list[int] = []
    for kind, value in pieces:
        if kind == "text":
            ids += tokenizer.encode(value)
            continue
        token = tokenizer.token_to_id(value)
        if token is None:
            raise ValueError(f"the chat template needs the token {value!r}, which the tokenizer lacks")
        ids.append(token)
    return ids


@dataclass(frozen=True)
class InfillPrompt:
    """Token ids around a request, resolved for one tokenizer (see PromptLayout)."""

    head: tuple[int, ...]
    """Ids before the prefix: bos, or a chat header."""
    tail: tuple[int, ...]
    """Ids after the suffix: eos, or the end of the assistant's turn."""
    filler: int | None = None
    """For shifted models with an empty head: put before an empty prefix so slot 0 has a predictor."""

    def build(
        self, prefix_ids: list[int], span_len: int, mask_id: int, suffix_ids: list[int]
    ) -> tuple[list[int], int]:
        """The whole sequence and the index of the span's first slot."""
        head = list(self.head)
        if not head and not prefix_ids and self.filler is not None:
            head = [self.filler]
        ids = head + list(prefix_ids) + [mask_id] * span_len + list(suffix_ids) + list(self.tail)
        return ids, len(head) + len(prefix_ids)


QWEN_CHAT_HEAD: tuple[Piece, ...] = (
    ("special", "<|im_start|>"), ("text", "system\nYou are a helpful assistant."),
    ("special", "<|im_end|>"), ("text", "\n"),
    ("special", "<|im_start|>"), ("text", f"user\n{INFILL_INSTRUCTION}"),
    ("special", "<|im_end|>"), ("text", "\n"),
    ("special", "<|im_start|>"), ("text", "assistant\n"),
)
QWEN_CHAT_TAIL: tuple[Piece, ...] = (("special", "<|im_end|>"),)

LLADA_CHAT_HEAD: tuple[Piece, ...] = (
    ("special", "<|startoftext|>"),
    ("special", "<|start_header_id|>"), ("text", "user"), ("special", "<|end_header_id|>"),
    ("text", f"\n\n{INFILL_INSTRUCTION}"), ("special", "<|eot_id|>"),
    ("special", "<|start_header_id|>"), ("text", "assistant"), ("special", "<|end_header_id|>"),
    ("text", "\n\n"),
)
LLADA_CHAT_TAIL: tuple[Piece, ...] = (("special", "<|eot_id|>"),)
