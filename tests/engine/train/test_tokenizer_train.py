"""Tests for engine.train.tokenizer_train: special-token layout, exact round-trips, raw-text safety."""

from __future__ import annotations

import re
import sysconfig
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from engine.train.tokenizer_train import (
    MASK_ID,
    SPECIAL_TOKENS,
    bytes_per_token,
    load_tokenizer,
    save_tokenizer,
    take_bytes,
    train_tokenizer,
)

TRICKY = [
    "",
    "\tdef f():\n\t\treturn 1\n",
    "def f():\n    if x:\n\t    return 1  \n",  # mixed indentation, trailing spaces
    "line1\r\nline2\r\n\r\n    indented\r\n",
    "a\n\n\n\nb\n   \n",
    "trailing   ",
    "   leading",
    "x = 'caf\u00e9'  # \u00fcml\u00e4ut\n\u03c0\u00b2 = 3.14159\n\u53d8\u91cf = 1\n",
    "emoji = '\U0001f600\U0001f680\u200d'\n",
    "nul\x00byte\x01\x7f\x1b[0m",
    "\u00a0nbsp\u3000ideographic space\u2028sep",
    "s = '<|mask|>' + '<|bos|><|eos|>' + '<|' + '|>'\n",
    " " * 37 + "\t" * 5 + "\n" * 3,
    "\ufeffbom = 1\n",
]


def _stdlib_sample(max_bytes: int = 400_000) -> list[str]:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted((root / "json").glob("*.py")) + sorted((root / "email").glob("*.py"))
    files += sorted((root / "asyncio").glob("*.py"))
    return list(take_bytes((p.read_text(encoding="utf-8") for p in files), max_bytes))


@pytest.fixture(scope="module")
def tok() -> Tokenizer:
    return train_tokenizer(_stdlib_sample(), vocab_size=1024)


def test_special_token_ids(tok: Tokenizer) -> None:
    assert [tok.token_to_id(s) for s in SPECIAL_TOKENS] == list(range(7))
    assert tok.token_to_id("<|mask|>") == MASK_ID == 3
    assert tok.get_vocab_size() == 1024


@pytest.mark.parametrize("text", TRICKY)
def test_round_trip_exact(tok: Tokenizer, text: str) -> None:
    assert tok.decode(tok.encode(text).ids) == text


def test_round_trip_stdlib_sample(tok: Tokenizer) -> None:
    for text in _stdlib_sample(100_000):
        assert tok.decode(tok.encode(text).ids) == text


def test_user_text_never_produces_special_ids(tok: Tokenizer, tmp_path: Path) -> None:
    loaded = load_tokenizer(_save(tok, tmp_path))
    for t in (tok, loaded):
        for s in SPECIAL_TOKENS + ["x = '<|mask|>'\n"]:
            ids = t.encode(s).ids
            assert not set(ids) & set(range(len(SPECIAL_TOKENS))), (s, ids)
            assert t.decode(ids) == s
        assert t.encode("<|mask|>").ids != [MASK_ID]


def test_plain_from_file_would_parse_specials(tok: Tokenizer, tmp_path: Path) -> None:
    # Documents why loaders must use load_tokenizer: the safety flag is not serialised.
    raw = Tokenizer.from_file(str(_save(tok, tmp_path)))
    assert raw.encode("<|mask|>").ids == [MASK_ID]


def test_special_ids_decode_only_on_request(tok: Tokenizer) -> None:
    ids = [0, *tok.encode("x = 1").ids, 1]
    assert tok.decode(ids) == "x = 1"
    assert tok.decode(ids, skip_special_tokens=False) == "<|bos|>x = 1<|eos|>"


def test_whitespace_runs_are_their_own_pretokens(tok: Tokenizer) -> None:
    text = "class A:\n    def f(self):\n\t\treturn  self.x  \r\n\n        pass\n"
    pieces = [p for p, _ in tok.pre_tokenizer.pre_tokenize_str(text)]
    # ByteLevel renders space as "Ġ", tab "ĉ", LF "Ċ", CR "č".
    ws = "ĠĉĊč"
    for p in pieces:
        assert re.fullmatch(f"[{ws}]+", p) or re.fullmatch(f"Ġ?[^{ws}]+", p), p
    assert len(tok.encode("        ").ids) <= 2  # indentation compresses after training on code


def test_bytes_per_token_reasonable(tok: Tokenizer) -> None:
    ratio = bytes_per_token(tok, _stdlib_sample(50_000))
    assert 2.0 < ratio < 8.0


def _save(tok: Tokenizer, tmp_path: Path) -> Path:
    path = tmp_path / "tok.json"
    save_tokenizer(tok, path)
    return path
