"""The sampler sweep runs end to end on a couple of tasks with the tiny model, resumes, and plots."""

from __future__ import annotations

import json

from benchmarks import sweep


def test_sweep_runs_resumes_and_plots(tmp_path):
    out = tmp_path / "sweep.json"
    args = ["run", "--model", "stipple-tiny", "--stride", "200", "--limit", "2", "--steps", "2,4",
            "--thresholds", "0.5", "--strategies", "confidence,margin", "--blocks", "1",
            "--kinds", "steps,threshold,keystroke,blocks", "--out", str(out)]
    assert sweep.main(args) == 0
    result = json.loads(out.read_text())
    kinds = [(c["kind"], c["strategy"], c["steps"]) for c in result["configs"]]
    assert kinds == [("steps", "confidence", 2), ("steps", "confidence", 4), ("threshold", "threshold", 32),
                     ("keystroke", "confidence", 16), ("blocks", "confidence", 32),
                     ("steps", "margin", 2), ("steps", "margin", 4)]
    for config in result["configs"]:
        assert config["tasks"] == 2 and len(config["rows"]) == 2
        assert 0 <= config["pass_at_1"] <= 1 and config["latency_p50_ms"] > 0
    keystroke = next(c for c in result["configs"] if c["kind"] == "keystroke")
    assert keystroke["mean_reused_tokens"] > 0  # the second request reused the first one's context
    assert all(c["mean_steps"] <= c["steps"] for c in result["configs"])
    assert sweep.main(args + ["--resume"]) == 0  # nothing left to run: the file is unchanged
    assert len(json.loads(out.read_text())["configs"]) == len(kinds)
    assert sweep.main(["table", str(out)]) == 0
    assert sweep.main(["plot", str(out)]) == 0
    assert out.with_suffix(".png").stat().st_size > 10_000
