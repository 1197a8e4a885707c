"""The diffusion-vs-autoregressive table: same tasks enforced, ratios against the twin, run commands."""

from __future__ import annotations

import json

import pytest

from benchmarks import ar_vs_diffusion as avd

TASKS = ["SingleLineInfilling/HumanEval/0/L0", "SingleLineInfilling/HumanEval/1/L2"]


def report(completer: str, p50: float, p95: float, passed: float, steps=None, strategy=None, tasks=TASKS,
           device: str = "cpu", model: str = "/cache/models/smollm2-dllm-0123456789abcdef") -> dict:
    return {"split": "single-line", "completer": completer, "model": model, "steps": steps,
            "strategy": strategy, "threshold": 0.9 if strategy == "threshold" else None, "device": device,
            "n_tasks": len(tasks), "pass_at_1_nonblank": passed, "p50_latency_ms": p50, "p95_latency_ms": p95,
            "results": [{"task_id": t} for t in tasks],
            "machine": {"processor": "x86_64", "torch_threads": 1, "cuda": "NVIDIA H200" if device != "cpu" else None}}


def write(folder, name: str, data: dict):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(data))


def test_table_orders_rows_and_divides_by_the_twin(tmp_path, capsys):
    cpu = tmp_path / "cpu"
    write(cpu, "k8", report("diffusion", 250.0, 400.0, 0.05, steps=8, strategy="confidence"))
    write(cpu, "twin", report("ar-fim", 100.0, 200.0, 0.40, model="/m/smollm2-ar-fim-fedcba9876543210"))
    write(cpu, "base", report("ar-prefix", 120.0, 300.0, 0.30, model="/m/smollm2-base-fedcba9876543210"))
    write(cpu, "thr", report("diffusion", 50.0, 100.0, 0.10, steps=32, strategy="threshold"))
    write(cpu, "k4", report("diffusion", 150.0, 220.0, 0.02, steps=4, strategy="confidence"))
    (cpu / "latency.json").write_text(json.dumps({"summary": {}}))  # not a quality report: skipped
    assert avd.main(["table", str(cpu)]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")][1:]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    assert [c[2] for c in cells] == ["greedy, KV cache, PSM", "greedy, KV cache, prefix only", "K = 4", "K = 8",
                                     "threshold τ = 0.9, K ≤ 32"]
    assert cells[0][0] == "smollm2-ar-fim" and cells[0][7:] == ["1.00×", "1.00×"]
    assert cells[3][4:] == ["5.0%", "250", "400", "2.50×", "2.00×"]
    assert cells[4][7] == "0.50×"


def test_devices_get_their_own_tables_and_a_missing_twin_has_no_ratio():
    text = avd.table([report("ar-fim", 100.0, 200.0, 0.4),
                      report("diffusion", 30.0, 40.0, 0.1, steps=8, device="cuda")])
    assert "**single-line, CPU (x86_64, 1 torch thread(s))**" in text
    assert "**single-line, GPU (NVIDIA H200)**" in text
    gpu_row = [line for line in text.splitlines() if "K = 8" in line][0]
    assert gpu_row.rstrip(" |").endswith("– | –")


def test_reports_over_different_tasks_are_refused():
    with pytest.raises(ValueError, match="different tasks"):
        avd.table([report("ar-fim", 100.0, 200.0, 0.4),
                   report("diffusion", 30.0, 40.0, 0.1, steps=8, tasks=TASKS[:1])])


def test_run_evaluates_every_configuration_with_the_same_tasks_and_resumes(tmp_path, monkeypatch):
    calls = []

    def fake_stipple(argv):
        calls.append(argv)
        out = argv[argv.index("--output") + 1]
        (tmp_path / "out" / out.rsplit("/", 1)[-1]).write_text("{}")
        return 0

    monkeypatch.setattr("benchmarks.cli.main", fake_stipple)
    argv = ["run", "--out", str(tmp_path / "out"), "--splits", "single-line", "--threads", "1", "--limit", "5"]
    assert avd.main(argv) == 0
    assert len(calls) == 2 + len(avd.STEPS) + 1
    for call in calls:
        assert call[:6] == ["eval", "humaneval-infill", "--split", "single-line", "--stride", "9"]
        assert call[-4:] == ["--limit", "5", "--threads", "1"]
    completers = [c[c.index("--completer") + 1] if "--completer" in c else "diffusion" for c in calls]
    assert completers[:2] == ["ar-fim", "ar-prefix"] and set(completers[2:]) == {"diffusion"}
    assert [c[c.index("--steps") + 1] for c in calls[2:]] == ["4", "8", "16", "32", "32"]
    assert "threshold" in calls[-1]
    assert avd.main(argv) == 0 and len(calls) == 7  # reports already written are kept


def test_a_reference_model_runs_at_k32_and_gets_its_own_rows(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr("benchmarks.cli.main", lambda argv: calls.append(argv) or 1)
    argv = ["run", "--out", str(tmp_path), "--splits", "multi-line", "--reference", "smollm2-dllm"]
    assert avd.main(argv) == 1  # every evaluation failed: the run says so
    assert calls[-1][-4:] == ["--model", "smollm2-dllm", "--steps", "32"]
    assert calls[0][4:6] == ["--stride", "60"]
    text = avd.table([report("diffusion", 300.0, 400.0, 0.1, steps=32, model="/m/smollm2-dllm-0123456789abcdef"),
                      report("diffusion", 300.0, 400.0, 0.0, steps=32, model="/m/smollm2-dllm-041m-0123456789abcdef"),
                      report("diffusion", 100.0, 150.0, 0.0, steps=8, model="/m/smollm2-dllm-041m-0123456789abcdef")])
    models = [line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| smollm2")]
    assert models == ["smollm2-dllm", "smollm2-dllm-041m", "smollm2-dllm-041m"]


def test_threshold_left_to_right_is_named_as_such():
    thr = {"completer": "diffusion", "strategy": "threshold", "threshold": 0.9, "steps": 32}
    assert avd.decoding({**thr, "block_length": 1}) == "threshold τ = 0.9, left to right, K ≤ 32"
    assert avd.decoding(thr) == "threshold τ = 0.9, K ≤ 32"
