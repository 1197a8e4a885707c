"""The held-out lines benchmark: its metrics, its table, and a run with the shipped tiny model."""

from __future__ import annotations

import json

import pytest

from benchmarks import heldout_lines as hl
from benchmarks.heldout_cursors import package_sources


@pytest.mark.parametrize("a, b, distance", [
    ("", "", 0),
    ("abc", "", 3),
    ("kitten", "sitting", 3),
    ("flaw", "lawn", 2),
    ("return x", "return y", 1),
    ("same", "same", 0),
])
def test_levenshtein(a, b, distance):
    assert hl.levenshtein(a, b) == hl.levenshtein(b, a) == distance


@pytest.mark.parametrize("completion, target, similarity", [
    ("  x = 1 ", "x = 1", 1.0),  # compared stripped
    ("", "abc", 0.0),
    ("kitten", "sitting", 1 - 3 / 7),
    ("", "", 1.0),
])
def test_edit_similarity(completion, target, similarity):
    assert hl.edit_similarity(completion, target) == pytest.approx(similarity)


def row(cursor_id: str, kind: str, completion: str, target: str, latency: float, seen: bool | None) -> dict:
    return {"cursor_id": cursor_id, "package": cursor_id.split("/")[0], "kind": kind, "completion": completion,
            "target": target, "exact": completion.strip() == target.strip(),
            "edit_sim": hl.edit_similarity(completion, target), "latency_ms": latency, "in_model_corpus": seen}


def report(model: str, rows: list[dict], manifest: str | None = "m.json.gz") -> dict:
    return {"model": model, "completer": "diffusion", "steps": 16, "strategy": "confidence", "threshold": None,
            "dtype": "float32", "device": "cpu", "machine": {"cpu": "AMD EPYC", "torch_threads": 2, "cuda": None},
            "selection": {"packages": {"click": "8.5.1", "attrs": "26.1.0"}},
            "model_corpus": {"manifest": manifest}, "summary": hl.summarize(rows), "rows": rows}


ROWS = [row("click/a.py:1:4", "line-start", "return x", "return x", 100.0, False),
        row("click/a.py:2:8", "mid-line", "", "foo(bar)", 300.0, False),
        row("attrs/b.py:3:4", "line-start", "y = 2", "y = 1", 200.0, True)]


def test_summarize():
    s = hl.summarize(ROWS)
    assert (s["n"], s["exact_match"], s["nonempty_rate"]) == (3, pytest.approx(1 / 3), pytest.approx(2 / 3))
    assert s["p50_latency_ms"] == 200.0 and s["p95_latency_ms"] == pytest.approx(290.0)
    assert s["by_kind"]["line-start"]["n"] == 2 and s["by_kind"]["mid-line"]["exact_match"] == 0.0
    assert set(s["by_package"]) == {"attrs", "click"}
    assert s["clean"]["n"] == 2 and s["clean"]["exact_match"] == 0.5


def test_table_takes_the_clean_cursors_of_every_report():
    base = [dict(r, in_model_corpus=None, completion=r["target"], exact=True, edit_sim=1.0) for r in ROWS]
    text = hl.table([report("/cache/smollm2-dllm-0123456789abcdef", ROWS),
                     dict(report("/cache/smollm2-base-0123456789abcdef", base, manifest=None), completer="ar-prefix")])
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines()[2:4]]
    assert cells[0][:2] == ["smollm2-dllm", "diffusion"] and cells[1][:3] == ["smollm2-base", "ar-prefix",
                                                                             "greedy, KV cache, prefix only"]
    columns = hl.COLUMNS.index("clean cursors"), hl.COLUMNS.index("exact clean")
    assert [c[columns[0]] for c in cells] == ["2", "2"]  # the base is scored on the dllm's clean cursors
    assert [c[columns[1]] for c in cells] == ["50.0%", "100.0%"]
    assert "attrs 26.1.0, click 8.5.1" in text and "training data unknown): smollm2-base" in text


def test_table_refuses_different_cursors():
    with pytest.raises(ValueError, match="different cursors"):
        hl.table([report("a", ROWS), report("b", ROWS[:2])])


def test_run_with_the_tiny_model_writes_a_report(tmp_path, capsys):
    if not package_sources():
        pytest.skip("none of the held-out packages is installed")
    output = tmp_path / "tiny.json"
    assert hl.main(["run", "--model", "stipple-tiny", "--n", "3", "--steps", "4", "--threads", "1",
                    "--output", str(output), "--quiet"]) == 0
    data = json.loads(output.read_text())
    assert {"model", "completer", "steps", "strategy", "mode", "dtype", "device", "machine", "selection",
            "model_corpus", "summary", "rows"} <= set(data)
    assert {"cpu", "torch_threads", "torch"} <= set(data["machine"]) and data["machine"]["torch_threads"] == 1
    assert data["mode"] == "single" and data["completer"] == "diffusion" and data["steps"] == 4
    assert data["model_corpus"]["manifest"].endswith("stipple-tiny/corpus_manifest.json.gz")
    assert data["selection"]["packages"] and data["summary"]["n"] == len(data["rows"]) == 3
    for r in data["rows"]:
        assert {"cursor_id", "file", "line", "kind", "target", "completion", "exact", "edit_sim",
                "latency_ms", "in_model_corpus"} <= set(r)
        assert r["package"] in data["selection"]["packages"] and 0.0 <= r["edit_sim"] <= 1.0
        assert isinstance(r["in_model_corpus"], bool) and r["latency_ms"] > 0
    assert "| stipple-tiny | diffusion | K = 4 |" in capsys.readouterr().out
    assert hl.main(["table", str(output), str(output)]) == 0
    left_to_right = tmp_path / "l2r.json"
    assert hl.main(["run", "--model", "stipple-tiny", "--n", "3", "--steps", "4", "--threads", "1",
                    "--block-length", "1", "--output", str(left_to_right), "--quiet"]) == 0
    assert json.loads(left_to_right.read_text())["block_length"] == 1
    assert "| K ≤ 4, blocks of 1 left to right |" in capsys.readouterr().out
