"""The models the repo ships: loadable, small, and trained on a corpus that excludes the benchmark."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from engine.train.corpus import resolve_benchmark_dir, verify_manifest
from engine.weights.default_model import ASSETS, DEFAULT_MODEL, SMOLLM2_BLOCK, TINY, resolve_model
from engine.weights.loader import load_model_dir

TINY_DIR = ASSETS / TINY


def test_tiny_model_loads_and_is_small():
    loaded = load_model_dir(resolve_model(TINY))
    assert (TINY_DIR / "model.safetensors").stat().st_size <= 10 * 2**20
    assert loaded.args.mask_token_id == loaded.tokenizer.special.mask
    assert resolve_model(None) == TINY_DIR or resolve_model(None).is_dir()


def test_tiny_corpus_manifest_excludes_the_benchmark():
    manifest = json.loads(gzip.decompress((TINY_DIR / "corpus_manifest.json.gz").read_bytes()))
    record = json.loads((TINY_DIR / "training_record.json").read_text())
    assert manifest["files"] and manifest["sha256"]
    assert record["config"]["corpus"].endswith("corpus")
    assert verify_manifest(manifest, resolve_benchmark_dir()) == []
    assert not any("human" in f["path"].lower() and "eval" in f["path"].lower()
                   for f in manifest["files"])


# (name, the embedding rows its adapter trains): mask and pad for the diffusion adapter (SmolLM2's
# <jupyter_script> and <empty_output>), the three FIM sentinels for the twin (<jupyter_start>,
# <jupyter_text>, <jupyter_code>): control tokens the base never trained.
ADAPTERS = [("smollm2-block", [15, 16]), ("smollm2-dllm", [15, 16]), ("smollm2-ar-fim", [11, 12, 13])]


@pytest.mark.parametrize("name, row_ids", ADAPTERS)
def test_shipped_adapter_is_small_and_matches_the_base_vocabulary(name, row_ids):
    from engine.weights.adapter import load_adapter

    adapter_dir = ASSETS / name / "adapter"
    if not (adapter_dir / "adapter_config.json").is_file():
        pytest.skip(f"no {name} adapter shipped")
    config, state = load_adapter(adapter_dir)
    size = sum(f.stat().st_size for f in adapter_dir.glob("adapter-*.safetensors"))
    assert size <= 30 * 2**20
    assert all(f.stat().st_size <= 16 * 2**20 for f in adapter_dir.glob("adapter-*.safetensors"))
    assert config["row_ids"] == row_ids
    assert state["embed_rows"].shape == (len(row_ids), 576)
    lora = [k for k in state if k.endswith(".lora_A")]
    assert len(lora) == 30 * 7 and all(state[k].shape[0] == config["rank"] for k in lora)


def test_the_twin_had_the_diffusion_adapters_data_and_steps():
    twin, diffusion = ASSETS / "smollm2-ar-fim", ASSETS / "smollm2-dllm"
    if not (twin / "training_record.json").is_file():
        pytest.skip("no twin shipped")
    # The comparison ran the diffusion adapter of this record; the shipped one has trained on since.
    compared = Path(__file__).parents[3] / "benchmarks/results/ar-vs-diffusion/cpu/smollm2-dllm-training_record.json"
    records = [json.loads(path.read_text()) for path in (twin / "training_record.json", compared)]
    assert records[0]["steps"] == records[1]["steps"]
    assert records[0]["config"]["seq_len"] == records[1]["config"]["seq_len"]
    assert records[0]["config"]["batch_size"] == records[1]["config"]["batch_size"]
    manifests = [gzip.decompress((d / "corpus_manifest.json.gz").read_bytes()) for d in (twin, diffusion)]
    assert manifests[0] == manifests[1]


def test_the_default_is_the_block_causal_adapter_trained_on_a_clean_corpus():
    from engine.train.corpus import HELD_OUT_PACKAGES
    from engine.weights.adapter import load_adapter

    assert DEFAULT_MODEL == SMOLLM2_BLOCK
    config, _ = load_adapter(ASSETS / SMOLLM2_BLOCK / "adapter")
    assert config["objective"] == "block-causal" and config["config"]["attention_layout"] == "block-causal"
    assert 0.0 < config["config"]["span_view"] <= 1.0
    assert config["config"]["guide"] == "smollm2-base"  # decoded left to right with its base's view mixed in
    record = json.loads((ASSETS / SMOLLM2_BLOCK / "training_record.json").read_text())
    assert record["steps"] == config["steps"] and record["tokens_seen"] == config["tokens_seen"]
    manifest = json.loads(gzip.decompress((ASSETS / SMOLLM2_BLOCK / "corpus_manifest.json.gz").read_bytes()))
    assert verify_manifest(manifest, resolve_benchmark_dir()) == []
    assert not {f["package"].lower() for f in manifest["files"]} & HELD_OUT_PACKAGES
