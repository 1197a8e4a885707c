"""Byte-level BPE tokenizer training, saving and loading for stipple.

Owns the special-token layout (ids 0..6, fixed order) and the guarantee that user text round-trips
exactly (decode(encode(s)) == s) and never produces special ids.  Run as
``python -m engine.train.tokenizer_train CORPUS_DIR OUT.json``.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

logger = logging.getLogger(__name__)

SPECIAL_TOKENS = ["<|bos|>", "<|eos|>", "<|pad|>", "<|mask|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>"]
BOS_ID, EOS_ID, PAD_ID, MASK_ID, FIM_PREFIX_ID, FIM_MIDDLE_ID, FIM_SUFFIX_ID = range(len(SPECIAL_TOKENS))


def _new_tokenizer() -> Tokenizer:
    tok = Tokenizer(models.BPE())
    # No normalizer: any normalisation (NFC, strip, CRLF folding) would break exact round-trips.
    # The GPT-2 regex keeps whitespace runs as their own pre-tokens (all but the last space, which
    # joins the following word), so indentation is learned as whitespace-only tokens.
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    return tok


def protect_special_tokens(tok: Tokenizer) -> Tokenizer:
    """Make encode() treat special-token strings in user text as plain text.

    User code may legitimately contain "<|mask|>"; it must not turn into a control id.  The
    engine inserts special ids by id (see the *_ID constants), never by text.  The flag is not
    serialised by `tokenizers`, so every loader must go through this function (load_tokenizer does).
    """
    tok.encode_special_tokens = True
    return tok


def train_tokenizer(texts: Iterable[str], vocab_size: int = 4096) -> Tokenizer:
    """Train a byte-level BPE with SPECIAL_TOKENS at ids 0..6 and all 256 byte symbols in the vocab."""
    tok = _new_tokenizer()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,  # first, so they get ids 0..6
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # every byte encodable, even unseen ones
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    for i, s in enumerate(SPECIAL_TOKENS):
        if tok.token_to_id(s) != i:
            raise RuntimeError(f"special token {s!r} got id {tok.token_to_id(s)}, expected {i}")
    return protect_special_tokens(tok)


def save_tokenizer(tok: Tokenizer, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(path))


def load_tokenizer(path: Path) -> Tokenizer:
    """Load a saved tokenizer with special-token parsing disabled for raw text."""
    return protect_special_tokens(Tokenizer.from_file(str(path)))


def take_bytes(texts: Iterable[str], max_bytes: int) -> Iterator[str]:
    """Yield texts until their UTF-8 size would exceed max_bytes (keeps tokenizer training bounded)."""
    total = 0
    for t in texts:
        n = len(t.encode("utf-8"))
        if total + n > max_bytes:
            return
        total += n
        yield t


def bytes_per_token(tok: Tokenizer, texts: Iterable[str]) -> float:
    """Compression ratio: UTF-8 bytes divided by token count (higher is better)."""
    batch = list(texts)
    n_bytes = sum(len(t.encode("utf-8")) for t in batch)
    n_tokens = sum(len(e.ids) for e in tok.encode_batch(batch, add_special_tokens=False))
    return n_bytes / max(n_tokens, 1)


def main(argv: list[str] | None = None) -> None:
    from engine.train.corpus import iter_texts  # local: keeps this module importable on its own

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("corpus_dir", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--vocab-size", type=int, default=4096)
    ap.add_argument("--max-bytes", type=int, default=20_000_000)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    t0 = time.perf_counter()
    tok = train_tokenizer(take_bytes(iter_texts(args.corpus_dir / "train.jsonl"), args.max_bytes), args.vocab_size)
    save_tokenizer(tok, args.out)
    t1 = time.perf_counter()
    ratio = bytes_per_token(tok, iter_texts(args.corpus_dir / "heldout.jsonl"))
    logger.info("vocab %d, trained in %.1fs, held-out bytes/token %.3f -> %s",
                tok.get_vocab_size(), t1 - t0, ratio, args.out)


if __name__ == "__main__":
    main()
