"""`stipple train corpus|tokenizer|model`: build the corpus, train a tokenizer, train a model."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def cmd_corpus(args: argparse.Namespace) -> int:
    from engine.train.corpus import build_corpus

    manifest = build_corpus(args.out, max_bytes=args.max_bytes, seed=args.seed)
    print(json.dumps({"files": len(manifest["files"]), "total_bytes": manifest["total_bytes"],
                      "sha256": manifest["sha256"], "excluded": manifest["excluded"]}))
    return 0


def cmd_tokenizer(args: argparse.Namespace) -> int:
    from engine.train.corpus import iter_texts
    from engine.train.tokenizer_train import train_tokenizer

    def texts():
        total = 0
        for text in iter_texts(args.corpus / "train.jsonl"):
            yield text
            total += len(text)
            if total >= args.max_bytes:
                return

    tokenizer = train_tokenizer(texts(), vocab_size=args.vocab_size)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(args.out))
    print(json.dumps({"vocab_size": tokenizer.get_vocab_size(), "path": str(args.out)}))
    return 0


def cmd_model(args: argparse.Namespace) -> int:
    from engine.train.loop import TrainConfig, train

    config = TrainConfig(
        corpus=args.corpus, out=args.out, tokenizer=args.tokenizer, preset=args.preset,
        init_model=args.init_model, shift_logits=args.shift_logits, seq_len=args.seq_len,
        batch_size=args.batch_size, lr=args.lr, warmup_steps=args.warmup_steps,
        max_steps=args.max_steps, max_minutes=args.minutes, fim_rate=args.fim_rate,
        anneal_fraction=args.anneal_fraction, lora_rank=args.lora_rank, lora_alpha=args.lora_alpha,
        corpus_bytes=args.corpus_bytes, seed=args.seed,
        device=args.device, save_dtype=args.save_dtype, resume=not args.no_resume,
        checkpoint_every=args.checkpoint_every, progress=sys.stderr.isatty() or args.progress,
    )
    record = train(config)
    print(json.dumps({k: record[k] for k in ("steps", "tokens_seen", "wall_time_s",
                                              "final_loss_mean_last_50", "parameters")}))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser("train", help="build the corpus, train a tokenizer or a model")
    steps = train.add_subparsers(dest="what", required=True)

    p = steps.add_parser("corpus", help="collect permissive local Python source with a manifest")
    p.add_argument("--out", type=Path, default=Path(".cache/corpus"))
    p.add_argument("--max-bytes", type=int, default=60_000_000)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_corpus)

    p = steps.add_parser("tokenizer", help="train a byte-level BPE tokenizer on the corpus")
    p.add_argument("--corpus", type=Path, default=Path(".cache/corpus"))
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--vocab-size", type=int, default=4096)
    p.add_argument("--max-bytes", type=int, default=20_000_000)
    p.set_defaults(func=cmd_tokenizer)

    p = steps.add_parser("model", help="train with masked diffusion + FIM")
    p.add_argument("--corpus", type=Path, default=Path(".cache/corpus"))
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--tokenizer", type=Path, default=None)
    p.add_argument("--preset", default="tiny")
    p.add_argument("--init-model", type=Path, default=None)
    p.add_argument("--shift-logits", action="store_true")
    p.add_argument("--seq-len", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup-steps", type=int, default=100)
    p.add_argument("--max-steps", type=int, default=1000)
    p.add_argument("--minutes", type=float, default=None)
    p.add_argument("--fim-rate", type=float, default=0.5)
    p.add_argument("--anneal-fraction", type=float, default=0.0,
                   help="ease from causal to full attention over this part of the run")
    p.add_argument("--lora-rank", type=int, default=0, help="> 0: LoRA adapter on --init-model")
    p.add_argument("--lora-alpha", type=float, default=32.0)
    p.add_argument("--corpus-bytes", type=int, default=20_000_000)
    p.add_argument("--checkpoint-every", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--save-dtype", default="float32")
    p.add_argument("--no-resume", action="store_true")
    p.add_argument("--progress", action="store_true")
    p.set_defaults(func=cmd_model)
