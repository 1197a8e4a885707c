"""The `stipple complete` contract, and `stipple serve`'s options, through `python -m lsp_server`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lsp_server.cli import main


def stipple(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lsp_server", *args], capture_output=True,
                          text=True, timeout=300)


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


@pytest.mark.parametrize("command", [["serve"], ["complete", "f.py:1:1"]])
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
