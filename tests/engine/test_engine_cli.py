"""The `stipple infill` contract and FILE:LINE:COL, through the engine's own command line (engine/cli.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from engine.cli import UsageError, add_parser, build_parser, split_at_cursor


def stipple(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", *args], capture_output=True,
                          text=True, timeout=300)


def test_infill_contract(tmp_path, random_model_dir):
    tasks = [{"task_id": "a", "prompt": "def f(x):\n", "suffix": "\n", "language": "python"},
             {"task_id": "b", "prompt": "x = [", "suffix": "]\n"},
             {"task_id": "c", "prompt": "if x:\n", "suffix": "", "mode": "single", "span_tokens": 6}]
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(json.dumps(t) + "\n" for t in tasks))
    done = stipple("infill", "--input", str(src), "--output", str(out), "--model",
                   str(random_model_dir), "--steps", "4", "--span-tokens", "8")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""  # results go to the output file only
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["task_id"] for r in rows] == ["a", "b", "c"]
    for row in rows:
        assert set(row) == {"task_id", "completion", "latency_ms", "steps"}
        assert isinstance(row["completion"], str) and 1 <= row["steps"] <= 4 and row["latency_ms"] > 0
    assert "\n" not in rows[2]["completion"][:-1], "single-line mode stops at the first newline"


def test_infill_bad_lines_are_reported_and_nothing_is_lost(tmp_path, random_model_dir):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text('{"task_id": "ok", "prompt": "a = ", "suffix": "\\n"}\nnot json\n'
                   '{"task_id": "bad", "prompt": 3}\n{"task_id": "ok2", "prompt": "b = ", "suffix": ""}\n')
    done = stipple("infill", "--input", str(src), "--output", str(out), "--model",
                   str(random_model_dir), "--steps", "2", "--span-tokens", "4")
    assert done.returncode == 1
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 4 and [("error" in r) for r in rows] == [False, True, True, False]
    assert "line 2" in rows[1]["error"] and "line 2" in done.stderr


@pytest.mark.parametrize(("text", "line", "col", "prefix"), [
    ("ab\ncd\n", 1, 1, ""), ("ab\ncd\n", 2, 2, "ab\nc"), ("ab\ncd\n", 2, 3, "ab\ncd"),
    ("ab\r\ncd", 2, 1, "ab\r\n"), ("ab\n", 2, 1, "ab\n"), ("", 1, 1, ""),
])
def test_split_at_cursor(text, line, col, prefix):
    got_prefix, suffix = split_at_cursor(text, line, col)
    assert got_prefix == prefix and got_prefix + suffix == text


@pytest.mark.parametrize(("line", "col"), [(0, 1), (3, 1), (1, 0), (1, 4)])
def test_impossible_positions(line, col):
    with pytest.raises(UsageError):
        split_at_cursor("ab\ncd", line, col)


def test_infill_dtype_option_takes_the_engine_dtypes_only(capsys):
    command = ["infill", "--input", "i", "--output", "o"]
    assert build_parser(add_parser).parse_args([*command, "--dtype", "float32"]).dtype == "float32"
    with pytest.raises(SystemExit) as exc:
        build_parser(add_parser).parse_args([*command, "--dtype", "int8"])
    assert exc.value.code == 2 and "int8" in capsys.readouterr().err
