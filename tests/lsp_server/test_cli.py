"""The `stipple infill` and `stipple complete` contracts, through the real console entry point."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lsp_server.cli import UsageError, main, split_at_cursor


def stipple(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lsp_server", *args], capture_output=True,
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


def test_missing_model_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "f.py").write_text("x = 1\n")
    assert main(["complete", f"{tmp_path / 'f.py'}:1:1", "--model", str(tmp_path / "none")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_complete_prints_the_completion(tmp_path, random_model_dir):
    path = tmp_path / "m.py"
    path.write_text("def add(a, b):\n    \n")
    done = stipple("complete", f"{path}:2:5", "--model", str(random_model_dir), "--steps", "2",
                   "--span-tokens", "6", "--show-latency")
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("\n") and " ms, model " in done.stderr


@pytest.mark.parametrize("content", [b"\x00\x01binary", b"\xff\xfe bad utf8"])
def test_complete_refuses_binary_and_non_utf8(tmp_path, content, capsys):
    path = tmp_path / "blob"
    path.write_bytes(content)
    assert main(["complete", f"{path}:1:1"]) == 2
    err = capsys.readouterr().err
    assert "binary" in err or "UTF-8" in err


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


@pytest.mark.parametrize("command", [["serve"], ["infill", "--input", "i", "--output", "o"], ["complete", "f.py:1:1"]])
def test_dtype_option_takes_the_engine_dtypes_only(command, capsys):
    from lsp_server.cli import build_parser

    assert build_parser().parse_args([*command, "--dtype", "float32"]).dtype == "float32"
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([*command, "--dtype", "int8"])
    assert exc.value.code == 2 and "int8" in capsys.readouterr().err


def test_complete_workspace_context(tmp_path, random_model_dir, capsys):
    from lsp_server.cli import workspace_block
    from lsp_server.documents import UTF32, Document
    from lsp_server.languages import language_for
    from lsp_server.settings import Settings

    (tmp_path / "helpers.py").write_text("def parse_header(line: str) -> dict:\n    return {}\n")
    main_py = tmp_path / "main.py"
    main_py.write_text("from helpers import parse_header\n\nfields = parse_header(\n")
    doc = Document(main_py.as_uri(), "", 0, main_py.read_text(), UTF32, language_for("", str(main_py)))
    block = workspace_block(tmp_path, doc, len(doc.text) - 1, Settings())
    assert "helpers.py" in block and "def parse_header(line: str) -> dict" in block
    done = stipple("complete", f"{main_py}:3:23", "--workspace", str(tmp_path), "--model",
                   str(random_model_dir), "--steps", "2", "--span-tokens", "4")
    assert done.returncode == 0, done.stderr
    assert main(["complete", f"{main_py}:3:23", "--workspace", str(tmp_path / "nope")]) == 2
    assert "not a directory" in capsys.readouterr().err
