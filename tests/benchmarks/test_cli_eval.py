"""`stipple eval humaneval-infill` end to end on a few real tasks (tests are executed)."""

from __future__ import annotations

import json

import pytest

from benchmarks.cli import main


@pytest.mark.parametrize("extra", [[], ["--oracle-length"], ["--completer", "ar-prefix"],
                                   ["--completer", "ar-fim"], ["--dtype", "float32"], ["--dtype", "bfloat16"]])
def test_eval_writes_a_report(tmp_path, random_model_dir, capsys, extra):
    out = tmp_path / "report.json"
    code = main(["eval", "humaneval-infill", "--split", "single-line", "--limit", "3", "--stride",
                 "50", "--model", str(random_model_dir), "--steps", "2", "--output", str(out),
                 "--quiet", *extra])
    assert code == 0
    report = json.loads(out.read_text())
    assert report["n_tasks"] == 3 and len(report["results"]) == 3
    assert 0.0 <= report["pass_at_1_nonblank"] <= report["pass_at_1"] <= 1.0
    assert report["machine"]["cpu_count"] >= 1 and report["oracle_length"] == ("--oracle-length" in extra)
    assert "pass" in capsys.readouterr().out.lower()
    assert report["completer"] == (extra[1] if "--completer" in extra else "diffusion")
    assert report["dtype"] in (["float32", "bfloat16"] if "--dtype" not in extra else [extra[1]])
    assert (report["steps"] is None) == ("--completer" in extra)


def test_oracle_length_is_for_diffusion_only(tmp_path, random_model_dir, capsys):
    code = main(["eval", "humaneval-infill", "--limit", "1", "--model", str(random_model_dir),
                 "--completer", "ar-fim", "--oracle-length", "--quiet"])
    assert code == 2 and "oracle" in capsys.readouterr().err


def test_eval_missing_data_is_a_clear_error(tmp_path, capsys):
    code = main(["eval", "humaneval-infill", "--data-dir", str(tmp_path), "--limit", "1"])
    assert code == 2 and "not found" in capsys.readouterr().err
