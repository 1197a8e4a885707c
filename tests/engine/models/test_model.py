"""The transformer: shapes, bidirectional attention, both logit conventions, GQA, save/load."""

from __future__ import annotations

import pytest
import torch

from engine.models import ModelArgs, Transformer
from engine.weights.loader import ModelDirError, load_model_dir


def tiny_args(**overrides) -> ModelArgs:
    base = dict(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2)
    return ModelArgs(**(base | overrides))


def test_logits_shape_and_head_dim():
    model = Transformer(tiny_args()).eval()
    ids = torch.randint(0, 64, (3, 11))
    assert model(ids).shape == (3, 11, 64)
    assert model.args.head_dim == 8


def test_attention_is_bidirectional_unless_causal():
    torch.manual_seed(0)
    model = Transformer(tiny_args()).eval()
    ids = torch.randint(0, 64, (1, 10))
    changed = ids.clone()
    changed[0, -1] = (ids[0, -1] + 1) % 64
    with torch.no_grad():
        full_a, full_b = model(ids), model(changed)
        causal_a, causal_b = model(ids, causal=True), model(changed, causal=True)
    assert not torch.allclose(full_a[0, 0], full_b[0, 0]), "an early position must see later tokens"
    assert torch.allclose(causal_a[0, :-1], causal_b[0, :-1], atol=1e-6), "causal must not look ahead"


def test_shifted_logits_align_to_next_token():
    torch.manual_seed(0)
    plain = Transformer(tiny_args(shift_logits=False)).eval()
    shifted = Transformer(tiny_args(shift_logits=True)).eval()
    shifted.load_state_dict(plain.state_dict())
    ids = torch.randint(0, 64, (2, 9))
    with torch.no_grad():
        raw = plain(ids)
        assert torch.equal(plain.token_logits(ids), raw)
        aligned = shifted.token_logits(ids)
    # Position i is scored by the hidden state at i - 1.
    assert torch.allclose(aligned[:, 1:], raw[:, :-1])


def test_gqa_matches_repeated_kv_heads():
    torch.manual_seed(0)
    gqa = Transformer(tiny_args(num_key_value_heads=2)).eval()
    mha = Transformer(tiny_args(num_key_value_heads=4)).eval()
    state = gqa.state_dict()
    for name, value in list(state.items()):
        if name.endswith(("k_proj.weight", "v_proj.weight")):  # (KV*D, d) -> (H*D, d)
            state[name] = value.view(2, 8, 32).repeat_interleave(2, dim=0).reshape(32, 32)
    mha.load_state_dict(state)
    ids = torch.randint(0, 64, (1, 7))
    with torch.no_grad():
        assert torch.allclose(gqa(ids), mha(ids), atol=1e-5)


@pytest.mark.parametrize("bad", [dict(num_attention_heads=5), dict(num_key_value_heads=3),
                                 dict(vocab_size=0)])
def test_args_validation(bad):
    with pytest.raises(ValueError):
        tiny_args(**bad)


def test_qwen2_config_names_load():
    args = ModelArgs.from_dict({"model_type": "qwen2", "vocab_size": 10, "hidden_size": 8,
                                "intermediate_size": 16, "num_hidden_layers": 1,
                                "num_attention_heads": 2, "num_key_value_heads": 1,
                                "eos_token_id": [5, 6], "torch_dtype": "bfloat16"})
    assert args.attention_bias and args.eos_token_id == 5 and args.extra["torch_dtype"] == "bfloat16"
    assert Transformer(args).model.layers[0].self_attn.q_proj.bias is not None


def test_save_load_round_trip(random_model_dir):
    loaded = load_model_dir(random_model_dir)
    again = load_model_dir(random_model_dir)
    ids = torch.randint(0, 512, (1, 12))
    with torch.no_grad():
        assert torch.equal(loaded.model(ids), again.model(ids))
    assert loaded.model.lm_head.weight is loaded.model.model.embed_tokens.weight
    assert loaded.tokenizer.special.mask == 3 and loaded.tokenizer.special.pad == 2


def test_missing_and_corrupt_model_files(tmp_path, random_model_dir):
    with pytest.raises(ModelDirError, match="does not exist"):
        load_model_dir(tmp_path / "nope")
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("config.json", "tokenizer.json"):
        (broken / name).write_bytes((random_model_dir / name).read_bytes())
    with pytest.raises(ModelDirError, match="no model.safetensors"):
        load_model_dir(broken)
    (broken / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ModelDirError, match="corrupt"):
        load_model_dir(broken)
    (broken / "model.safetensors").write_bytes((random_model_dir / "model.safetensors").read_bytes())
    (broken / "config.json").write_text("{not json")
    with pytest.raises(ModelDirError, match="not valid JSON"):
        load_model_dir(broken)


def test_kv_cache_decoding_matches_full_causal_pass():
    from engine.models.kv_cache import KVCache

    torch.manual_seed(0)
    model = Transformer(tiny_args()).eval()
    ids = torch.randint(0, 64, (1, 10))
    with torch.no_grad():
        full = model(ids, causal=True)
        cache = KVCache(model.args, 1, 16, "cpu", torch.float32)
        steps = [model(ids[:, :6], causal=True, cache=cache, start=0)]
        for pos in range(6, 10):
            steps.append(model(ids[:, pos : pos + 1], causal=True, cache=cache, start=pos))
    assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-5)


def test_loading_does_not_pull_in_dynamo_or_triton():
    """Building on the meta device must not run init kernels through torch._dynamo (it imports Triton,
    ~160 MB resident in every server)."""
    import subprocess
    import sys

    code = ("import sys\nfrom engine.denoise.config import EngineConfig\nfrom engine.denoise.engine import Engine\n"
            "Engine(EngineConfig(model_dir='stipple-tiny')).infill('x = ', '')\n"
            "loaded = [m for m in ('torch._dynamo', 'triton') if m in sys.modules]\n"
            "assert not loaded, loaded\n"
            "import torch\n"  # and a small model runs on one CPU thread (engine/denoise/runner.py)
            "assert torch.get_num_threads() == 1, torch.get_num_threads()\n")
    subprocess.run([sys.executable, "-c", code], check=True, env={"OMP_NUM_THREADS": "2", "PATH": ""})


def test_default_dtype_is_bf16_where_the_hardware_multiplies_it(monkeypatch, random_model_dir):
    from engine.denoise import config

    assert config.default_dtype("cuda:0") == "bfloat16"
    monkeypatch.setattr(config, "cpu_bf16", lambda: False)
    assert config.EngineConfig(model_dir=random_model_dir, device="cpu").dtype == "float32"
    monkeypatch.setattr(config, "cpu_bf16", lambda: True)
    assert config.EngineConfig(model_dir=random_model_dir, device="cpu").dtype == "bfloat16"
    assert config.EngineConfig(model_dir=random_model_dir, device="cpu", dtype="float32").dtype == "float32"
    with pytest.raises(ValueError, match="dtype"):
        config.EngineConfig(model_dir=random_model_dir, device="cpu", dtype="int8")
