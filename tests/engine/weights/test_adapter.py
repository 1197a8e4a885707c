"""LoRA adapters: start as identity, merge exactly, save in shards, touch only the chosen rows."""

from __future__ import annotations

import copy

import pytest
import torch

from engine.models import ModelArgs, Transformer
from engine.weights.adapter import apply_lora, load_adapter, merge_adapter, merged_state, save_adapter


def small_model() -> Transformer:
    torch.manual_seed(0)
    return Transformer(ModelArgs(vocab_size=50, hidden_size=32, intermediate_size=64,
                                 num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                 shift_logits=True))


def train_a_little(model: Transformer, params) -> None:
    opt = torch.optim.AdamW(params, lr=1e-2, weight_decay=0.0)
    for _ in range(3):
        loss = model.token_logits(torch.randint(0, 50, (2, 8))).logsumexp(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_lora_starts_as_the_base_and_merges_exactly(tmp_path):
    model = small_model()
    base_state = copy.deepcopy(model.state_dict())
    ids = torch.randint(0, 50, (1, 9))
    before = model(ids).detach()
    params = apply_lora(model, rank=4, alpha=8, row_ids=[3, 4])
    assert torch.allclose(model(ids), before, atol=1e-6)
    train_a_little(model, params)
    after = model(ids).detach()
    assert not torch.allclose(after, before)

    plain = small_model()
    plain.load_state_dict(merged_state(model))
    assert torch.allclose(plain(ids), after, atol=1e-4)

    files = save_adapter(tmp_path / "ad", model, {"base": "test"}, shard_bytes=4000,
                         dtype=torch.float32)
    assert len(files) > 1 and all(f.stat().st_size < 4000 + 2000 for f in files)
    config, state = load_adapter(tmp_path / "ad")
    again = small_model()
    again.load_state_dict(merge_adapter(base_state, config, state))
    assert torch.allclose(again(ids), after, atol=1e-4)


def test_only_special_embedding_rows_change():
    model = small_model()
    embed_before = model.model.embed_tokens.weight.detach().clone()
    params = apply_lora(model, rank=2, alpha=2, row_ids=[7])
    train_a_little(model, params)
    changed = (model.model.embed_tokens.weight.detach() != embed_before).any(-1)
    assert changed.nonzero().flatten().tolist() == [7]


def test_missing_shard_is_a_clear_error(tmp_path):
    model = small_model()
    apply_lora(model, rank=2, alpha=2, row_ids=[1])
    files = save_adapter(tmp_path / "ad", model, {})
    files[0].unlink()
    with pytest.raises(ValueError, match="missing"):
        load_adapter(tmp_path / "ad")
