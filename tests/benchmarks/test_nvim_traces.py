"""The shipped Neovim traces (benchmarks/traces, made by benchmarks/latency/record_nvim.py): well formed,
small, a real Neovim 0.11 session; and the first seconds of one replay against the real server on schedule."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from benchmarks.latency.record_nvim import keystroke_gaps, pick_lines
from benchmarks.latency.trace import read_trace, replay_sync

TRACES = Path(__file__).resolve().parents[2] / "benchmarks" / "traces"
SHIPPED = {"nvim-python.msgpack": "python", "nvim-typescript.msgpack": "typescript"}
INLINE = "textDocument/inlineCompletion"


@pytest.mark.parametrize("name, language", SHIPPED.items())
def test_shipped_trace_is_a_real_neovim_session(name, language):
    path = TRACES / name
    assert path.stat().st_size < 500_000
    header, events = read_trace(path)
    assert header["stippleTrace"] == 1 and "--record" in header["argv"]
    times = [e["t"] for e in events]
    assert times == sorted(times) and times[-1] > 10  # typed for a while, at human speed
    incoming = [e["msg"] for e in events if e["dir"] == "in"]
    methods = [m.get("method") for m in incoming]
    assert methods[:2] == ["initialize", "initialized"]
    assert incoming[0]["params"]["clientInfo"]["name"] == "Neovim"
    assert incoming[0]["params"]["clientInfo"]["version"].startswith("0.11")
    opened = next(m for m in incoming if m.get("method") == "textDocument/didOpen")
    assert opened["params"]["textDocument"]["languageId"] == language
    requests = {m["id"] for m in incoming if m.get("method") == INLINE}
    assert len(requests) >= 10 and methods.count("textDocument/didChange") >= 50  # nvim batches keystrokes
    answered = {e["msg"]["id"] for e in events if e["dir"] == "out" and "method" not in e["msg"]}
    assert requests <= answered  # every completion request got its response, cancelled or not
    assert methods.count("$/cancelRequest") >= 1  # typing through a pending request cancels it


def test_replaying_the_start_of_a_shipped_trace_keeps_its_schedule():
    path = TRACES / "nvim-python.msgpack"
    _, events = read_trace(path)
    inline = [e for e in events if e["dir"] == "in" and e["msg"].get("method") == INLINE]
    until = inline[0]["t"] + 2.0
    expected = [e for e in inline if e["t"] <= until]
    result = replay_sync(path, until=until)
    assert len(result["samples"]) == len(expected) >= 2
    assert result["options"]["until"] == until
    for sample in result["samples"]:
        assert sample["latency_ms"] > 0 and sample["language"] == "python"
        if not sample["client_cancelled"]:
            assert sample["outcome"] in ("offered", "empty", "skipped"), sample
    timing = result["timing"]
    sent = [e for e in events if e["dir"] == "in" and "method" in e["msg"] and e["t"] <= until
            and e["msg"]["method"] not in ("shutdown", "exit")]
    assert timing["messages"] == len(sent) and 0 < timing["timed"] < len(sent)  # sent during the load: not timed
    assert timing["late_ms_p50"] >= 0  # a message never leaves before its recorded time


def test_replay_rejects_a_file_that_is_not_a_trace(tmp_path):
    junk = tmp_path / "junk.msgpack"
    junk.write_bytes(b"hello\n")
    with pytest.raises(ValueError, match="not a stipple trace"):
        read_trace(junk)


def test_recorder_script_picks_simple_statements_and_types_like_a_person():
    lines = ['"""Doc.', "x = compute(a, b)  # a long docstring line", '"""', "def f(values, other):",
             "    total = sum(values) + other", "    if total:", "        return total * 2", "", "# comment here ok"]
    picked = pick_lines(lines, 2, random.Random(0))
    assert picked == [4, 6]  # not the docstring, the header, the `if`, or the comment
    gaps = keystroke_gaps("value = f(x)", 60, random.Random(1))
    assert len(gaps) == len("value = f(x)") and all(g >= 0.02 for g in gaps)
    assert 0.04 < sum(gaps) / len(gaps) < 0.4
