"""`stipple profile` on the shipped tiny model: every layer is profiled, one roofline row per step run,
the step kinds follow the engine's refresh schedule, and the cost model counts what the model computes."""

from __future__ import annotations

import json

import pytest
from torch import nn

from benchmarks.cli import main
from benchmarks.profile import run_profile
from benchmarks.roofline import CostModel, StepShape
from engine.denoise.config import EngineConfig
from engine.denoise.engine import Engine
from engine.denoise.params import DenoiseParams

PREFIX = "def mean(values):\n    total = 0.0\n    for value in values:\n        "
SUFFIX = "\n    return total / len(values)\n"


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(EngineConfig(device="cpu", num_threads=1))


@pytest.fixture(scope="module")
def report(engine, tmp_path_factory) -> dict:
    trace = tmp_path_factory.mktemp("profile") / "trace.json"
    params = DenoiseParams(steps=6, mode="multi", span_tokens=24, refresh_every=3)
    return run_profile(engine, PREFIX, SUFFIX, params, trace=trace)


def test_every_layer_is_timed_on_every_step(report, engine):
    done = report["request"]["steps_done"]
    assert done == 6 and report["warning"] is None
    expected = [f"layer.{i}.{part}" for i in range(engine.runner.loaded.args.num_hidden_layers)
                for part in ("attn", "mlp")] + ["lm_head"]
    assert [row["name"] for row in report["layers"]] == expected
    for row in report["layers"]:
        assert row["calls"] == done and row["total_ms"] > 0, row
    assert 0 < report["totals"]["labelled_ms"] <= report["totals"]["forward_ms"] * 1.05
    trace = json.loads(open(report["trace"]).read())
    names = {event.get("name") for event in trace["traceEvents"]}
    assert {"layer.0.attn", "lm_head", "step.0", "step.5"} <= names


def test_one_roofline_row_per_step_following_the_refresh_schedule(report):
    steps = report["steps"]
    assert [s["step"] for s in steps] == list(range(report["request"]["steps_done"]))
    assert [s["kind"] for s in steps] == ["full", "cached", "cached", "full", "cached", "cached"]
    full, cached = steps[0], steps[1]
    sequence = 1 + report["request"]["prefix_tokens"] + 24 + report["request"]["suffix_tokens"]  # bos + ...
    assert full["rows"] == full["keys"] == cached["keys"] == sequence
    assert cached["rows"] == 24 < full["rows"] and full["logit_rows"] == cached["logit_rows"] == 24
    assert full["gflop"] > cached["gflop"] and full["mb"] > cached["mb"]
    for s in steps:
        assert s["ms"] > 0 and s["gflops"] > 0 and s["gbps"] > 0 and 0 < s["of_roofline"]
        assert s["bound"] in ("memory", "compute")
    assert report["peak"]["gflops"] > 0 and report["peak"]["gbps"] > 0
    assert report["totals"]["denoise_ms"] >= report["totals"]["forward_ms"] * 0.95


def test_reused_context_makes_the_first_pass_partial(engine):
    params = DenoiseParams(steps=2, mode="multi", span_tokens=16)
    report = run_profile(engine, PREFIX, SUFFIX, params, reuse_context=True)
    request, first = report["request"], report["steps"][0]
    assert request["reused_tokens"] > 0  # the warm-up left its context for the same document
    assert first["kind"] == "cached" and first["keys"] == 1 + request["prefix_tokens"] + 16 + request["suffix_tokens"]
    assert first["rows"] == first["keys"] - request["reused_tokens"]


def test_cost_model_counts_two_flops_per_weight_and_token(engine):
    model = engine.runner.model
    args = model.args
    costs = CostModel(model)
    layer_weights = sum(m.weight.numel() for m in model.model.layers.modules() if isinstance(m, nn.Linear))
    rows, keys, kept = 10, 50, 4
    attention = args.num_hidden_layers * 4 * args.num_attention_heads * args.head_dim * rows * keys
    expected = 2 * layer_weights * rows + 2 * model.lm_head.weight.numel() * kept + attention
    assert costs.step(StepShape(rows, keys, kept, "cached")).flops == expected
    # Every weight is read once per step; a tied head is the embedding table, read once as the head.
    unique = sum(p.numel() * p.element_size() for p in model.parameters())
    untied_embedding = 0 if args.tie_word_embeddings else model.model.embed_tokens.weight.numel() * costs.elem
    assert costs.weight_bytes == unique - untied_embedding
    more_keys = costs.step(StepShape(rows, 2 * keys, kept, "cached"))
    assert more_keys.bytes > costs.step(StepShape(rows, keys, kept, "cached")).bytes


def test_cli_prints_json(capsys):
    assert main(["profile", "--prefix", PREFIX, "--suffix", SUFFIX, "--steps", "2", "--threads", "1",
                 "--device", "cpu", "--json", "--span-tokens", "8"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["steps"]) == report["request"]["steps_done"] == 2
    assert report["request"]["mode"] == "multi"  # the cursor's line is blank


@pytest.mark.parametrize("argv, message", [
    (["profile"], "either FILE:LINE:COL or --prefix"),
    (["profile", "a.py:1:1", "--prefix", "x"], "either FILE:LINE:COL or --prefix"),
    (["profile", "missing.py:1:1"], "cannot read"),
    (["profile", "--prefix", "x", "--steps", "0"], "steps must be >= 1"),
])
def test_cli_rejects_bad_input(capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err
