"""Shared fixtures: a small tokenizer and random-weight model directories built in a temp folder.

Tests that do not name a model get stipple-tiny (`$STIPPLE_DEFAULT_MODEL`, inherited by the servers
they start): protocol and plumbing tests stay fast. The real default is tested where it is named.
"""

from __future__ import annotations

import json
import os
import random
import sysconfig
from pathlib import Path

import pytest
import torch

from engine.models import ModelArgs, Transformer
from engine.train.tokenizer_train import SPECIAL_TOKENS, train_tokenizer
from engine.weights.loader import save_model_dir

STDLIB = Path(sysconfig.get_paths()["stdlib"])
os.environ.setdefault("STIPPLE_DEFAULT_MODEL", "stipple-tiny")


def stdlib_texts(max_bytes: int) -> list[str]:
    texts, total = [], 0
    for path in sorted(STDLIB.glob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        texts.append(text)
        total += len(text)
        if total > max_bytes:
            break
    return texts


@pytest.fixture(scope="session")
def tokenizer_path(tmp_path_factory) -> Path:
    tok = train_tokenizer(stdlib_texts(300_000), vocab_size=512)
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    tok.save(str(path))
    return path


def make_model_dir(path: Path, tokenizer_path: Path, shift_logits: bool, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    args = ModelArgs(vocab_size=512, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                     num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                     shift_logits=shift_logits, bos_token_id=0, eos_token_id=1, pad_token_id=2,
                     mask_token_id=3)
    model = Transformer(args)
    save_model_dir(path, args, model, tokenizer_path.read_text())
    return path


@pytest.fixture(scope="session")
def random_model_dir(tmp_path_factory, tokenizer_path) -> Path:
    return make_model_dir(tmp_path_factory.mktemp("model"), tokenizer_path, shift_logits=True)


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory) -> Path:
    """A corpus folder in engine.train.corpus's format, from a slice of the standard library."""
    folder = tmp_path_factory.mktemp("corpus")
    rows = [{"path": f"stdlib/{i}.py", "package": "python-stdlib", "license": "PSF-2.0",
             "sha256": "", "text": text} for i, text in enumerate(stdlib_texts(200_000))]
    random.Random(0).shuffle(rows)
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


assert SPECIAL_TOKENS[:4] == ["<|bos|>", "<|eos|>", "<|pad|>", "<|mask|>"]
