"""The training loop: CPU or CUDA, bf16 autocast where the hardware has it, checkpoints, resume, seeded.

Trains from scratch (a ModelArgs preset plus a tokenizer file) or continues from a model directory.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from engine.ar.fim import SMOLLM2_FIM_TOKENS, FimTokens, fim_tokens
from engine.denoise.config import cpu_bf16
from engine.models import ModelArgs, Transformer
from engine.train import ar_objective, block_objective, objective
from engine.train.corpus import iter_texts
from engine.weights.adapter import apply_lora, load_adapter, load_adapter_into, merged_state, save_adapter
from engine.weights.loader import load_model_dir, save_model_dir
from engine.weights.tokenizer import Tokenizer

log = logging.getLogger("stipple.train")

PRESETS: dict[str, dict] = {
    # ~2.5M parameters: ships for tests and CPU smoke runs (<= 10 MB in bf16).
    "tiny": dict(hidden_size=192, intermediate_size=512, num_hidden_layers=4, num_attention_heads=6,
                 num_key_value_heads=2, max_position_embeddings=1024, rope_theta=10000.0),
    # For unit tests of the loop itself.
    "micro": dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                  num_key_value_heads=1, max_position_embeddings=256),
}


OBJECTIVES = ("diffusion", "block-causal", "ar-fim")


@dataclass
class TrainConfig:
    corpus: Path  # a folder with train.jsonl (engine.train.corpus)
    out: Path  # model directory written at the end; checkpoints under out/checkpoints
    tokenizer: Path | None = None  # from scratch: tokenizer.json
    preset: str = "tiny"
    init_model: Path | None = None  # continue from a model directory instead of a preset
    shift_logits: bool = False
    seq_len: int = 256
    batch_size: int = 16
    lr: float = 1e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 100
    weight_decay: float = 0.01
    max_steps: int = 1000
    max_minutes: float | None = None
    fim_rate: float = 0.5
    anneal_fraction: float = 0.0  # causal -> full attention over this part of training (DiffuLLaMA)
    lora_rank: int = 0  # > 0: train a LoRA adapter on a frozen init_model instead of all weights
    lora_alpha: float = 32.0
    init_adapter: Path | None = None  # with lora_rank: start from this saved adapter (a shipped one)
    ordered_rate: float = 0.0  # block-causal: share of spans hidden from a point on (block_objective.span_mask)
    corpus_bytes: int = 20_000_000
    checkpoint_every: int = 200
    seed: int = 0
    device: str = "cpu"
    save_dtype: str = "float32"
    resume: bool = True
    progress: bool = True
    extra_card: dict = field(default_factory=dict)
    # "diffusion": masked diffusion + padded FIM spans, full attention (objective.py). "block-causal":
    # span diffusion with complementary masks + next-token loss on the causal context
    # (block_objective.py). "ar-fim": the autoregressive twin, causal attention, PSM fill-in-the-middle
    # and next-token loss (ar_objective.py).
    objective: str = "diffusion"
    # bf16 autocast; None: on CUDA and on CPUs with native bf16 (engine.denoise.config.cpu_bf16), where it
    # halves a CPU step (SmolLM2 LoRA, 4 x 256 tokens, 2 cores: 4.8 s -> 2.2 s).
    bf16: bool | None = None

    def __post_init__(self) -> None:
        self.corpus, self.out = Path(self.corpus), Path(self.out)
        if self.init_model is None and self.tokenizer is None:
            raise ValueError("from-scratch training needs a tokenizer file (or an init_model directory)")
        if self.init_model is None and self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; known: {sorted(PRESETS)}")
        if not 0 <= self.fim_rate <= 1:
            raise ValueError("fim_rate must be in [0, 1]")
        if self.lora_rank and self.init_model is None:
            raise ValueError("a LoRA adapter needs a pretrained init_model")
        if self.init_adapter is not None and not self.lora_rank:
            raise ValueError("init_adapter continues a LoRA adapter: set lora_rank")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if self.objective == "ar-fim" and self.init_model is None and not self.shift_logits:
            raise ValueError("the ar-fim objective trains a next-token model: set shift_logits")
        if self.objective == "block-causal" and (self.init_model is None and not self.shift_logits):
            raise ValueError("the block-causal objective trains a next-token (shift_logits) model")
        if self.objective == "ar-fim" and self.anneal_fraction:
            raise ValueError("the ar-fim objective is causal throughout: anneal_fraction must be 0")


def build_model(config: TrainConfig) -> tuple[ModelArgs, Transformer, Tokenizer]:
    if config.init_model is not None:
        loaded = load_model_dir(config.init_model, config.device)
        return loaded.args, loaded.model.train(), loaded.tokenizer
    tok_config: dict = {}
    tokenizer = Tokenizer.from_file(config.tokenizer, tok_config)
    special = tokenizer.special
    args = ModelArgs(
        vocab_size=tokenizer.vocab_size, shift_logits=config.shift_logits,
        bos_token_id=special.bos, eos_token_id=special.eos, pad_token_id=special.pad,
        mask_token_id=special.mask, **PRESETS[config.preset],
    )
    torch.manual_seed(config.seed)
    model = Transformer(args)
    for module in model.modules():
        if isinstance(module, (torch.nn.Linear, torch.nn.Embedding)):
            torch.nn.init.normal_(module.weight, std=0.02)
    return args, model.to(config.device).train(), tokenizer


def progress_of(config: TrainConfig, step: int, elapsed_s: float) -> float:
    """Fraction of the run done: by steps, or by wall time when a time budget is set."""
    done = step / config.max_steps
    if config.max_minutes:
        done = max(done, elapsed_s / (60 * config.max_minutes))
    return min(1.0, done)


def learning_rate(config: TrainConfig, step: int, progress: float) -> float:
    """Linear warmup, then cosine decay to min_lr_ratio * lr over the run's progress."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    floor = config.lr * config.min_lr_ratio
    return floor + (config.lr - floor) * 0.5 * (1 + math.cos(math.pi * progress))


class Batches:
    """Seeded stream of mixed MDLM / FIM examples drawn from the corpus texts."""

    def __init__(self, config: TrainConfig, tokenizer: Tokenizer) -> None:
        self.config, self.tokenizer = config, tokenizer
        self.fim: FimTokens | None = None
        if config.objective == "ar-fim":
            self.fim = fim_tokens(tokenizer, reuse=SMOLLM2_FIM_TOKENS)
        self.texts: list[str] = []
        total = 0
        for text in iter_texts(config.corpus / "train.jsonl"):
            self.texts.append(text)
            total += len(text)
            if total >= config.corpus_bytes:
                break
        if not self.texts:
            raise ValueError(f"{config.corpus}/train.jsonl holds no text")
        eos = tokenizer.special.eos
        self.stream: list[int] = []
        # In chunks: an Encoding carries offsets and masks besides ids, ~100x the text's size.
        for start in range(0, len(self.texts), 64):
            for enc in tokenizer.hf.encode_batch(self.texts[start : start + 64], add_special_tokens=False):
                self.stream.extend(enc.ids + ([eos] if eos is not None else []))

    def next(self, rng: random.Random) -> list[objective.Example] | list[list[int]]:
        c, tok = self.config, self.tokenizer
        if self.fim is not None:
            return ar_objective.draw_sequences(self.texts, self.stream, tok, self.fim, rng,
                                               c.batch_size, c.seq_len, c.fim_rate)
        if c.objective == "block-causal":
            blocks: list[block_objective.BlockExample] = []
            while len(blocks) < c.batch_size:
                if (example := block_objective.block_example(rng.choice(self.texts), tok, rng, c.seq_len)):
                    blocks.append(example)
            return blocks
        examples: list[objective.Example] = []
        while len(examples) < c.batch_size:
            if rng.random() < c.fim_rate:
                example = objective.fim_example(rng.choice(self.texts), tok, rng, c.seq_len)
                if example is None:
                    continue
            else:
                width = c.seq_len - 1
                start = rng.randint(0, max(0, len(self.stream) - width))
                example = objective.mdlm_example(self.stream[start : start + width], tok.special.bos)
            examples.append(example)
        return examples


def train(config: TrainConfig) -> dict:
    """Run (or resume) training; writes the model directory and returns the training record."""
    args, model, tokenizer = build_model(config)
    batches = Batches(config, tokenizer)
    twin, block = batches.fim is not None, config.objective == "block-causal"
    if block and not args.shift_logits:
        raise ValueError(f"{config.init_model}: the block-causal objective needs a next-token (shift_logits) model")
    if twin and not args.shift_logits:
        raise ValueError(f"{config.init_model}: the ar-fim objective needs a next-token (shift_logits) model")
    before = {"steps": 0, "tokens_seen": 0}  # what a continued adapter (init_adapter) had learnt already
    if twin:  # the merged model's tokenizer must resolve the sentinels by id
        args.extra.update(batches.fim.config_fields())
    if config.lora_rank:
        special = tokenizer.special
        new_rows = batches.fim.sentinels if twin else [special.mask, special.pad]
        trainable = apply_lora(model, config.lora_rank, config.lora_alpha, new_rows)
        if config.init_adapter is not None:
            init_config, init_state = load_adapter(config.init_adapter)
            load_adapter_into(model, init_config, init_state)
            before = {k: init_config.get(k, 0) for k in before}
        embed = model.model.embed_tokens.weight
        # No weight decay on the embedding: only the new tokens' rows get gradients, decay would move them all.
        groups = [{"params": [p for p in trainable if p is not embed]},
                  {"params": [embed], "weight_decay": 0.0}]
    else:
        groups = [{"params": list(model.parameters())}]
    optimizer = torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.95),
                                  weight_decay=config.weight_decay)
    rng, generator = random.Random(config.seed), torch.Generator().manual_seed(config.seed)
    ckpt_path = config.out / "checkpoints" / "last.pt"
    step, tokens_seen, losses, elapsed_before = 0, 0, [], 0.0
    part_losses: list[dict[str, float]] = []  # block-causal: span and context losses of this run's steps
    view = 1.0
    if config.resume and ckpt_path.exists():
        state = torch.load(ckpt_path, map_location=config.device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        rng.setstate(state["rng"])
        generator.set_state(state["generator"])
        step, tokens_seen, losses = state["step"], state["tokens_seen"], state["losses"]
        elapsed_before = state["elapsed_s"]
        log.info("resumed from %s at step %d", ckpt_path, step)
    device_type = "cuda" if config.device.startswith("cuda") else "cpu"
    use_bf16 = config.bf16 if config.bf16 is not None else device_type == "cuda" or cpu_bf16()
    started = time.monotonic()
    bar = tqdm(total=config.max_steps, initial=step, disable=not config.progress, desc="train")

    def save_checkpoint() -> None:
        ckpt_path.parent.mkdir(parents=True, exist_ok=True)
        partial = ckpt_path.with_suffix(".partial")  # a run killed while saving keeps the last checkpoint
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "rng": rng.getstate(), "generator": generator.get_state(), "step": step,
                    "tokens_seen": tokens_seen, "losses": losses,
                    "elapsed_s": elapsed_before + time.monotonic() - started}, partial)
        partial.replace(ckpt_path)

    while step < config.max_steps:
        progress = progress_of(config, step, elapsed_before + time.monotonic() - started)
        if config.max_minutes and progress >= 1.0:
            break
        causal_fraction = max(0.0, 1.0 - progress / config.anneal_fraction) if config.anneal_fraction else 0.0
        view = 1.0 - causal_fraction
        if twin:
            batch = ar_objective.collate(batches.next(rng), tokenizer.special.pad)
            causal_fraction = 1.0
        elif block:
            batch = block_objective.collate(batches.next(rng), tokenizer.special.pad, tokenizer.special.mask,
                                            generator, view, config.ordered_rate)
        else:
            batch = objective.collate(batches.next(rng), tokenizer.special.pad, tokenizer.special.mask, generator)
        batch = {k: v.to(config.device) for k, v in batch.items()}
        mask = batch["attn_mask"] if block else objective.attention_mask(batch["valid"], causal_fraction)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config, step, progress)
        with torch.autocast(device_type, dtype=torch.bfloat16, enabled=use_bf16):
            if twin or block:  # raw logits: position i scores token i + 1
                logits = model(batch["input_ids"], attn_mask=mask, positions=batch.get("positions"))  # (B, L, V)
            else:
                logits = model.token_logits(batch["input_ids"], attn_mask=mask)  # (B, L, V)
        if block:
            loss, parts = block_objective.block_loss(logits, batch)
            part_losses.append(parts)
        else:
            loss = ar_objective.next_token_loss(logits, batch) if twin else objective.masked_diffusion_loss(logits, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        tokens_seen += int(batch["tokens"] if block else batch["valid"].sum())
        losses.append(round(loss.item(), 4))
        bar.update(1)
        bar.set_postfix(loss=f"{sum(losses[-20:]) / len(losses[-20:]):.3f}")
        if step % config.checkpoint_every == 0:
            save_checkpoint()
            if part_losses:
                recent = part_losses[-config.checkpoint_every:]
                log.info("step %d view %.2f loss %.3f span %.3f context %.3f", step, view,
                         sum(losses[-len(recent):]) / len(recent), sum(p["span"] for p in recent) / len(recent),
                         sum(p["context"] for p in recent) / len(recent))
    bar.close()
    save_checkpoint()
    wall = elapsed_before + time.monotonic() - started
    save_dtype = getattr(torch, config.save_dtype)
    if config.lora_rank:
        info = {"base": str(config.init_model), "steps": before["steps"] + step,
                "tokens_seen": before["tokens_seen"] + tokens_seen, "objective": config.objective}
        if block:  # config.json fields of the merged model (engine/default_model.build_adapted)
            info["config"] = {"attention_layout": "block-causal", "span_view": round(view, 4)}
            args.attention_layout, args.span_view = "block-causal", round(view, 4)
        if twin:  # build_adapted sets the sentinel ids of the merged model from these names
            info["token_roles"] = batches.fim.names
        save_adapter(config.out / "adapter", model, info)
        plain = Transformer(args)
        plain.load_state_dict(merged_state(model))
        model = plain
    save_model_dir(config.out, args, model, tokenizer.hf.to_str(), dtype=save_dtype)
    record = {
        "steps": step, "tokens_seen": tokens_seen, "wall_time_s": round(wall, 1),
        "parameters": sum(p.numel() for p in model.parameters()),
        "lora_rank": config.lora_rank, "init_adapter_steps": before["steps"],
        "init_adapter_tokens_seen": before["tokens_seen"],
        "final_loss_mean_last_50": round(sum(losses[-50:]) / max(1, len(losses[-50:])), 4),
        "loss_curve_every_50": losses[::50],
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()},
        "torch": torch.__version__, "device": config.device, "bf16_autocast": use_bf16,
    }
    (config.out / "training_record.json").write_text(json.dumps(record, indent=2) + "\n")
    return record
