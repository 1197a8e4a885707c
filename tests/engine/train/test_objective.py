"""The training objective (masked diffusion + FIM with pad fillers) and the training loop."""

from __future__ import annotations

import json
import random

import pytest
import torch

from engine.train import objective
from engine.train.loop import TrainConfig, train
from engine.weights.loader import load_model_dir
from engine.weights.tokenizer import Tokenizer

SOURCE = "import os\n\n\ndef walk(root):\n    for name in os.listdir(root):\n        yield name\n\n\nprint(1)\n"


@pytest.fixture(scope="module")
def tok(tokenizer_path) -> Tokenizer:
    return Tokenizer.from_file(tokenizer_path)


def test_fim_example_is_prefix_span_suffix_with_pad_tail(tok):
    rng = random.Random(0)
    for _ in range(50):
        example = objective.fim_example(SOURCE, tok, rng, seq_len=128)
        assert example is not None and len(example.ids) <= 128
        span = [i for i, m in zip(example.ids, example.maskable) if m]
        content = [i for i in span if i != tok.special.pad]
        pads = span[len(content):]
        assert span == content + pads, "pads only at the span's end"
        assert example.ids[0] == tok.special.bos and not example.maskable[0]
        first = example.maskable.index(True)
        assert all(example.maskable[first : first + len(span)])  # one contiguous span
        assert tok.decode(example.ids) in SOURCE  # a contiguous piece of the text, pads dropped


def test_collate_masks_only_maskable_and_at_least_one(tok):
    gen = torch.Generator().manual_seed(0)
    examples = [objective.mdlm_example(tok.encode(SOURCE), tok.special.bos),
                objective.fim_example(SOURCE, tok, random.Random(1), 128)]
    batch = objective.collate(examples, tok.special.pad, tok.special.mask, gen)
    assert batch["input_ids"].shape == batch["targets"].shape
    assert not (batch["masked"] & ~batch["maskable"]).any()
    assert batch["masked"].any(-1).all()
    assert (batch["input_ids"][batch["masked"]] == tok.special.mask).all()
    keep = ~batch["masked"] & batch["valid"]
    assert torch.equal(batch["input_ids"][keep], batch["targets"][keep])


def test_loss_is_weighted_by_inverse_mask_ratio():
    targets = torch.tensor([[1, 2, 3, 4]])
    logits = torch.zeros((1, 4, 8))  # uniform: CE = log 8 everywhere
    batch = {"targets": targets, "masked": torch.tensor([[True, False, True, False]]),
             "maskable": torch.ones((1, 4), dtype=torch.bool), "t": torch.tensor([[0.5]])}
    expected = 2 * torch.log(torch.tensor(8.0)) / 0.5 / 4
    assert torch.allclose(objective.masked_diffusion_loss(logits, batch), expected)
    perfect = torch.full((1, 4, 8), -50.0).scatter(-1, targets.unsqueeze(-1), 50.0)
    assert objective.masked_diffusion_loss(perfect, batch) < 1e-6


def test_attention_mask_anneals_from_causal_to_full():
    valid = torch.tensor([[True, True, True, False]])
    full = objective.attention_mask(valid)[0, 0]
    assert full[0, 2] and not full[0, 3]
    causal = objective.attention_mask(valid, causal_fraction=1.0)[0, 0]
    assert not causal[0, 1] and causal[2, 0]


def micro_config(small_corpus, tokenizer_path, out, steps, **kw) -> TrainConfig:
    return TrainConfig(corpus=small_corpus, out=out, tokenizer=tokenizer_path, preset="micro",
                       seq_len=64, batch_size=4, max_steps=steps, warmup_steps=5, lr=3e-3,
                       checkpoint_every=5, corpus_bytes=100_000, progress=False, **kw)


def test_training_reduces_loss_and_writes_a_loadable_model(small_corpus, tokenizer_path, tmp_path):
    record = train(micro_config(small_corpus, tokenizer_path, tmp_path / "m", 60))
    curve = json.loads((tmp_path / "m" / "training_record.json").read_text())["loss_curve_every_50"]
    assert record["steps"] == 60 and record["tokens_seen"] > 0
    assert record["final_loss_mean_last_50"] < curve[0]
    loaded = load_model_dir(tmp_path / "m")
    assert loaded.args.mask_token_id == loaded.tokenizer.special.mask


def test_training_is_deterministic_and_resumable(small_corpus, tokenizer_path, tmp_path):
    straight = train(micro_config(small_corpus, tokenizer_path, tmp_path / "a", 10))
    train(micro_config(small_corpus, tokenizer_path, tmp_path / "b", 5))
    resumed = train(micro_config(small_corpus, tokenizer_path, tmp_path / "b", 10))
    a, b = load_model_dir(tmp_path / "a").model, load_model_dir(tmp_path / "b").model
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.allclose(x, y, atol=1e-6), name
    assert resumed["steps"] == straight["steps"] == 10


@pytest.mark.parametrize("bf16", [False, True])
def test_training_in_bf16_autocast_or_not_learns_and_says_which(small_corpus, tokenizer_path, tmp_path, bf16):
    record = train(micro_config(small_corpus, tokenizer_path, tmp_path / "m", 60, bf16=bf16))
    assert record["bf16_autocast"] is bf16
    assert record["final_loss_mean_last_50"] < record["loss_curve_every_50"][0]
    weights = load_model_dir(tmp_path / "m").model.state_dict().values()
    assert all(w.dtype == torch.float32 and torch.isfinite(w).all() for w in weights)


def test_lora_adaptation_writes_adapter_and_merged_model(small_corpus, random_model_dir, tmp_path):
    config = TrainConfig(corpus=small_corpus, out=tmp_path / "ad", init_model=random_model_dir,
                         lora_rank=2, seq_len=64, batch_size=2, max_steps=4, warmup_steps=1,
                         corpus_bytes=50_000, progress=False)
    record = train(config)
    assert record["lora_rank"] == 2 and (tmp_path / "ad" / "adapter" / "adapter_config.json").exists()
    base, adapted = load_model_dir(random_model_dir), load_model_dir(tmp_path / "ad")
    mask = base.tokenizer.special.mask
    base_embed = base.model.model.embed_tokens.weight
    adapted_embed = adapted.model.model.embed_tokens.weight
    assert not torch.equal(base_embed[mask], adapted_embed[mask])
    assert torch.equal(base_embed[mask + 10], adapted_embed[mask + 10])
