"""The models the repo ships: loadable, small, and trained on a corpus that excludes the benchmark."""

from __future__ import annotations

import gzip
import json

import pytest

from engine.default_model import ASSETS, TINY, resolve_model
from engine.loader import load_model_dir
from engine.train.corpus import resolve_benchmark_dir, verify_manifest

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
    bench = resolve_benchmark_dir()
    if not bench.is_dir():
        pytest.skip(f"benchmark data not at {bench}")
    assert verify_manifest(manifest, bench) == []
    assert not any("human" in f["path"].lower() and "eval" in f["path"].lower()
                   for f in manifest["files"])


ADAPTER_DIR = ASSETS / "smollm2-dllm" / "adapter"


@pytest.mark.skipif(not (ADAPTER_DIR / "adapter_config.json").is_file(), reason="no adapter shipped")
def test_shipped_adapter_is_small_and_matches_the_base_vocabulary():
    from engine.adapter import load_adapter

    config, state = load_adapter(ADAPTER_DIR)
    size = sum(f.stat().st_size for f in ADAPTER_DIR.glob("adapter-*.safetensors"))
    assert size <= 30 * 2**20
    assert all(f.stat().st_size <= 16 * 2**20 for f in ADAPTER_DIR.glob("adapter-*.safetensors"))
    assert config["row_ids"] == [15, 16]  # SmolLM2's <jupyter_script> (mask) and <empty_output> (pad)
    assert state["embed_rows"].shape == (2, 576)
    lora = [k for k in state if k.endswith(".lora_A")]
    assert len(lora) == 30 * 7 and all(state[k].shape[0] == config["rank"] for k in lora)
