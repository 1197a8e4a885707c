"""Each supported family against the reference implementation in `transformers`.

A random-weight tiny model of the reference architecture (Qwen2 for Dream/Open-dCoder, Qwen3 for
CoDA, LLaMA for LLaDA) is run with a full non-causal mask; its weights are written to a directory
in the family's own layout (config names, tensor names, special tokens in a tokenizer.json built
here) and loaded by stipple's loader. Logits must agree within 1e-4 in float32 on a padded batch,
with the family's logit shift applied. The tensor-name table for LLaDA below is written from
LLaDA's checkpoint layout, independently of engine/models/families.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

transformers = pytest.importorskip("transformers")

from safetensors.torch import save_file  # noqa: E402
from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers  # noqa: E402

from engine.models import Transformer  # noqa: E402
from engine.models.families import FAMILIES, detect_family  # noqa: E402
from engine.weights.loader import load_model_dir  # noqa: E402

VOCAB = 96
SHAPE = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
             num_attention_heads=4, num_key_value_heads=2)


def write_tokenizer(path: Path, specials: dict[str, int], declared: dict[str, str] | None = None) -> None:
    """A word-level tokenizer of VOCAB ids with the family's special tokens at the given ids."""
    vocab = {f"w{i}": i for i in range(VOCAB)}
    for token, index in specials.items():
        vocab.pop(f"w{index}")
        vocab[token] = index
    tok = Tokenizer(models.WordLevel(vocab, unk_token="w0"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.add_special_tokens([AddedToken(t, special=True) for t in specials])
    tok.save(str(path / "tokenizer.json"))
    if declared:
        (path / "tokenizer_config.json").write_text(json.dumps(declared))


def llada_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """LlamaForCausalLM names -> LLaDA's (transformer.wte, blocks.N.attn_out, ff_proj = gate...)."""
    per_layer = {"self_attn.q_proj": "q_proj", "self_attn.k_proj": "k_proj",
                 "self_attn.v_proj": "v_proj", "self_attn.o_proj": "attn_out",
                 "input_layernorm": "attn_norm", "post_attention_layernorm": "ff_norm",
                 "mlp.gate_proj": "ff_proj", "mlp.up_proj": "up_proj", "mlp.down_proj": "ff_out"}
    out = {}
    for name, value in state.items():
        if name == "model.embed_tokens.weight":
            out["model.transformer.wte.weight"] = value
        elif name == "model.norm.weight":
            out["model.transformer.ln_f.weight"] = value
        elif name == "lm_head.weight":
            out["model.transformer.ff_out.weight"] = value
        else:
            _, _, layer, rest = name.split(".", 3)
            module, leaf = rest.rsplit(".", 1)
            out[f"model.transformer.blocks.{layer}.{per_layer[module]}.{leaf}"] = value
    return out


def dream_case(path: Path):
    ref = transformers.Qwen2Config(**SHAPE, rope_theta=1e6, tie_word_embeddings=False)
    config = {"architectures": ["DreamModel"], "model_type": "Dream", **SHAPE,
              "auto_map": {"AutoModel": "modeling_dream.DreamModel"}, "hidden_act": "silu",
              "rope_theta": 1e6, "rms_norm_eps": 1e-6, "tie_word_embeddings": False,
              "rope_scaling": None, "use_sliding_window": False,
              "bos_token_id": 90, "eos_token_id": 90, "pad_token_id": 90, "mask_token_id": 95}
    write_tokenizer(path, {"<|endoftext|>": 90, "<|im_start|>": 91, "<|im_end|>": 92, "<|mask|>": 95})
    return transformers.Qwen2ForCausalLM(ref), config, lambda s: s, True


def open_dcoder_case(path: Path):
    ref = transformers.Qwen2Config(**SHAPE, tie_word_embeddings=True)
    config = ref.to_dict() | {"architectures": ["Qwen2ForCausalLM"]}  # as transformers 5 saves it
    for key in ("bos_token_id", "eos_token_id", "pad_token_id"):
        config.pop(key, None)
    write_tokenizer(path, {"<|endoftext|>": 88, "<|mask|>": 93}, {"mask_token": "<|mask|>"})
    return transformers.Qwen2ForCausalLM(ref), config, lambda s: s, True


def coda_case(path: Path):
    ref = transformers.Qwen3Config(**SHAPE, head_dim=16, tie_word_embeddings=True)
    config = {"architectures": ["CoDALanguageModel"], "model_type": "CoDA", **SHAPE,
              "head_dim": 16, "hidden_act": "silu", "rope_theta": ref.rope_parameters["rope_theta"],
              "rms_norm_eps": ref.rms_norm_eps, "tie_word_embeddings": True,
              "bos_token_id": 80, "eos_token_id": 81, "pad_token_id": 80, "mask_token_id": 82}
    write_tokenizer(path, {"<|endoftext|>": 80, "<|im_end|>": 81, "<|mask|>": 82})
    return transformers.Qwen3ForCausalLM(ref), config, lambda s: s, True


def llada_case(path: Path):
    ref = transformers.LlamaConfig(**SHAPE, rope_theta=5e5, rms_norm_eps=1e-5, tie_word_embeddings=False)
    config = {"architectures": ["LLaDAModelLM"], "model_type": "llada", "d_model": 32, "n_heads": 4,
              "n_kv_heads": 2, "n_layers": 2, "mlp_hidden_size": 48, "mlp_ratio": 4,
              "embedding_size": VOCAB, "vocab_size": VOCAB, "rope_theta": 5e5, "rms_norm_eps": 1e-5,
              "max_sequence_length": 4096, "weight_tying": False, "include_bias": False,
              "include_qkv_bias": False, "block_type": "llama", "activation_type": "silu",
              "layer_norm_type": "rms", "rope": True, "alibi": False, "eos_token_id": 91,
              "pad_token_id": 91}  # no mask_token_id: it must come from the tokenizer
    write_tokenizer(path, {"<|startoftext|>": 90, "<|endoftext|>": 91, "<|mdm_mask|>": 94,
                           "<|start_header_id|>": 92, "<|end_header_id|>": 93, "<|eot_id|>": 95},
                    {"bos_token": "<|startoftext|>"})
    return transformers.LlamaForCausalLM(ref), config, llada_names, False


CASES = {"dream": dream_case, "open-dcoder": open_dcoder_case, "coda": coda_case, "llada": llada_case}


@pytest.fixture(params=list(CASES))
def family_dir(request, tmp_path):
    torch.manual_seed(0)
    reference, config, rename, shifted = CASES[request.param](tmp_path)
    reference = reference.float().eval()
    with torch.no_grad():  # O(1) logits, and random norms so that a dropped one shows
        for name, p in reference.named_parameters():
            p.uniform_(0.5, 1.5) if name.endswith("norm.weight") else p.normal_(0, 0.15)
    state = {k: v.contiguous() for k, v in reference.state_dict().items()}
    if config.get("tie_word_embeddings"):
        state.pop("lm_head.weight")
    save_file(rename(state), str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps(config))
    return request.param, tmp_path, reference, shifted


def test_logits_match_the_reference_on_a_padded_batch(family_dir):
    name, path, reference, shifted = family_dir
    loaded = load_model_dir(path)
    assert loaded.family.name == name and loaded.args.shift_logits == shifted
    pad = loaded.tokenizer.special.pad
    lengths = [12, 9, 5]
    ids = torch.randint(0, 80, (3, 12))
    valid = torch.arange(12)[None, :] < torch.tensor(lengths)[:, None]  # (B, L)
    ids = ids.masked_fill(~valid, pad)
    mask = valid[:, None, None, :].expand(3, 1, 12, 12)  # (B, 1, L, L): attend to real tokens only
    with torch.no_grad():
        expected = reference(ids, attention_mask=mask).logits  # (B, L, V)
        ours = loaded.model.token_logits(ids, attn_mask=mask)
        solo = loaded.model.token_logits(ids[2:, :5])  # the short row alone: padding must not leak
    if shifted:  # token i is scored by the hidden state at i - 1
        expected = expected[:, :-1]
        ours, valid = ours[:, 1:], valid[:, 1:]
        solo = solo[:, 1:]
    assert ours.shape == expected.shape
    assert expected[valid].abs().max() > 1.0  # the tolerance is small against the logits
    assert torch.allclose(ours[valid], expected[valid], atol=1e-4, rtol=0), \
        f"max diff {(ours[valid] - expected[valid]).abs().max():.2e}"
    assert torch.allclose(ours[2, : solo.shape[1]], solo[0], atol=1e-4, rtol=0)


def test_special_tokens_and_prompt_come_from_the_checkpoint(family_dir):
    name, path, _, _ = family_dir
    loaded = load_model_dir(path)
    special, prompt = loaded.tokenizer.special, loaded.prompt
    by_name = loaded.tokenizer.token_to_id
    assert special.mask == by_name({"llada": "<|mdm_mask|>"}.get(name, "<|mask|>"))
    ids, start = prompt.build([5, 6], 3, special.mask, [7])
    assert ids[start : start + 3] == [special.mask] * 3 and ids[start - 2 : start] == [5, 6]
    if name == "dream":  # Dream's infilling reference: bos prefix masks suffix eos
        assert ids == [90, 5, 6, 95, 95, 95, 7, 90]
    if name == "llada":  # bos is <|startoftext|>, named by tokenizer_config.json
        assert ids[0] == by_name("<|startoftext|>") == special.bos
    if name == "open-dcoder":  # no bos unless the shifted span would start the sequence
        assert ids[0] == 5
        empty, first = prompt.build([], 2, special.mask, [7])
        assert first == 1 and empty[0] in special.ids


def test_instruct_checkpoints_get_the_chat_layout(tmp_path):
    instruct = tmp_path / "LLaDA-8B-Instruct"
    instruct.mkdir()
    reference, config, rename, _ = llada_case(instruct)
    save_file(rename(reference.state_dict()), str(instruct / "model.safetensors"))
    (instruct / "config.json").write_text(json.dumps(config))
    loaded = load_model_dir(instruct)
    ids, start = loaded.prompt.build([5], 2, loaded.tokenizer.special.mask, [7])
    tok = loaded.tokenizer.token_to_id
    assert ids[0] == tok("<|startoftext|>") and ids[1] == tok("<|start_header_id|>")
    assert ids[start - 1] == 5 and ids[-1] == tok("<|eot_id|>")
    assert ids.count(tok("<|eot_id|>")) == 2  # the user's turn and the assistant's reply end


# Published configurations (config.json of each release) and the published parameter counts.
QWEN25_7B = dict(vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
                 num_attention_heads=28, num_key_value_heads=4, tie_word_embeddings=False)
REAL = {
    "dream": ({"model_type": "Dream", "architectures": ["DreamModel"], **QWEN25_7B}, 7.62e9),
    "open-dcoder": ({"model_type": "qwen2", "vocab_size": 151936, "hidden_size": 896,
                     "intermediate_size": 4864, "num_hidden_layers": 24, "num_attention_heads": 14,
                     "num_key_value_heads": 2, "tie_word_embeddings": True}, 0.494e9),
    "coda": ({"model_type": "CoDA", "vocab_size": 151936, "hidden_size": 2048, "head_dim": 128,
              "intermediate_size": 6144, "num_hidden_layers": 28, "num_attention_heads": 16,
              "num_key_value_heads": 8, "tie_word_embeddings": True}, 1.72e9),
    "llada": ({"model_type": "llada", "d_model": 4096, "n_heads": 32, "n_kv_heads": 32, "n_layers": 32,
               "mlp_hidden_size": 12288, "vocab_size": 126464, "embedding_size": 126464,
               "weight_tying": False, "block_type": "llama"}, 8.02e9),
}


@pytest.mark.parametrize("name", list(REAL))
def test_real_size_parameter_counts(name):
    config, published = REAL[name]
    family = detect_family(config)
    assert family.name == name
    args = family.to_args(config)
    with torch.device("meta"):
        model = Transformer(args)
    counted = sum(p.numel() for p in model.parameters())  # tied weights counted once
    assert counted == args.num_parameters
    assert abs(counted - published) / published < 0.01, f"{name}: {counted / 1e9:.3f}B"


def test_unknown_or_unsupported_configs_are_refused_clearly():
    with pytest.raises(ValueError, match="supported families: " + ", ".join(f.name for f in FAMILIES)):
        detect_family({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]})
    llada = dict(REAL["llada"][0], include_bias=True)
    with pytest.raises(ValueError, match="include_bias=True is not supported"):
        detect_family(llada).to_args(llada)
    dream = dict(REAL["dream"][0], rope_scaling={"type": "yarn", "factor": 4.0})
    with pytest.raises(ValueError, match="rope_scaling"):
        detect_family(dream).to_args(dream)
