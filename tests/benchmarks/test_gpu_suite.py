"""The GPU suite's CPU dry run end to end, its argument checks, and the figures it derives."""

from __future__ import annotations

import json

import pytest
import torch

from benchmarks.gpu_suite import __main__ as suite
from benchmarks.gpu_suite import summary
from benchmarks.gpu_suite.shapes import SHAPES, model_args, random_model, weight_bytes


def test_dry_run_writes_json_and_summary(tmp_path):
    assert suite.main(["--out", str(tmp_path), "--dry-run"]) == 0
    result = json.loads((tmp_path / "gpu_suite.json").read_text())
    assert result["dry_run"] and result["errors"] == {} and result["bandwidth_gbs"] > 0
    assert result["kernels"]["ok"]
    (row,) = result["decode"]
    assert row["shape"] == "tiny" and row["graph_vs_eager_argmax_agree"] == 1.0
    for strategy in ("confidence", "threshold"):
        run = row["diffusion"][strategy]
        assert 1 <= run["steps"] <= 4 and run["tokens_per_s"] > 0
    assert row["cached_step_ms"] > 0 and row["weight_read_bound_ms"] > 0 and row["ar"]["graphs"]["span_ms"] > 0
    text = (tmp_path / "gpu_suite.md").read_text()
    assert "dry run" in text and "| tiny |" in text


def test_without_cuda_a_real_run_refuses(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    assert suite.main(["--out", str(tmp_path), "--only", "kernels"]) == 2
    assert "--dry-run" in capsys.readouterr().err


@pytest.mark.parametrize("flag, value", [("--only", "kernels,nope"), ("--shapes", "qwen2-1.5b,gpt5")])
def test_unknown_parts_and_shapes_are_rejected(tmp_path, flag, value):
    with pytest.raises(SystemExit):
        suite.parse_args(["--out", str(tmp_path), flag, value])


def test_shapes_have_the_published_parameter_counts():
    billions = {name: model_args(name, 4096).num_parameters / 1e9 for name in SHAPES}
    assert billions["qwen2-0.5b"] == pytest.approx(0.49, abs=0.01)
    assert billions["qwen2-1.5b"] == pytest.approx(1.54, abs=0.01)
    assert billions["qwen2-7b"] == pytest.approx(7.62, abs=0.01)
    assert billions["llada-8b"] == pytest.approx(8.02, abs=0.01)


def test_weight_bytes_skips_an_untied_embedding():
    tied = random_model(model_args("tiny", 128), "cpu", torch.float32)
    total, read = weight_bytes(tied)
    assert total == read == 4 * tied.args.num_parameters
    untied_args = model_args("tiny", 128)
    untied_args.tie_word_embeddings = False
    untied = random_model(untied_args, "cpu", torch.float32)
    total, read = weight_bytes(untied)
    assert total - read == 4 * untied_args.vocab_size * untied_args.hidden_size


def test_targets_compare_against_the_issue():
    row = {"shape": "qwen2-1.5b", "cached_step_vs_bound": 1.2, "speedup_vs_ar": {"confidence": 2.5},
           "diffusion": {"confidence": {"tokens_per_s": 1600.0}}}
    server = {"latency": {"all": {"p50_ms": 20.0}}}
    met = {name: flag for name, _, flag in summary.targets({"decode": [row], "server": server})}
    assert list(met.values()) == ["yes", "yes", "no", "no"]
