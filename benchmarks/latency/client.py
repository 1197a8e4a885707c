"""BenchClient: one `stipple serve --spans` subprocess and the pygls client that drives it over stdio.

It initializes with a real editor's client capabilities (VS Code or Neovim), answers the server's
requests as that editor would, and collects the server's `stipple/spans` notification for each request.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

# The server's per-request timings (`stipple serve --spans`; lsp_server/spans.py documents the params). The
# client knows it by its wire name, as an editor knows a method, not by importing the server.
SPANS_METHOD = "stipple/spans"

# What the editors send in `initialize` (trimmed to the parts a completion server looks at).
EDITOR_CAPABILITIES: dict[str, dict] = {
    "vscode": {  # VS Code 1.9x with vscode-languageclient 9
        "general": {"positionEncodings": ["utf-16"], "markdown": {"parser": "marked", "version": "1.1.0"}},
        "window": {"workDoneProgress": True, "showMessage": {"messageActionItem": {"additionalPropertiesSupport": True}}},
        "workspace": {"configuration": True, "workspaceFolders": True, "applyEdit": True,
                      "didChangeConfiguration": {"dynamicRegistration": True}},
        "textDocument": {
            "synchronization": {"dynamicRegistration": True, "willSave": True, "willSaveWaitUntil": True,
                                "didSave": True},
            "inlineCompletion": {"dynamicRegistration": True},
            "completion": {"dynamicRegistration": True, "contextSupport": True,
                           "completionItem": {"snippetSupport": True, "insertReplaceSupport": True}}},
    },
    "neovim": {  # Neovim 0.11's vim.lsp.protocol.make_client_capabilities()
        "general": {"positionEncodings": ["utf-8", "utf-16", "utf-32"]},
        "window": {"workDoneProgress": True, "showDocument": {"support": True}},
        "workspace": {"configuration": True, "workspaceFolders": True, "applyEdit": True,
                      "didChangeConfiguration": {"dynamicRegistration": False}},
        "textDocument": {
            "synchronization": {"dynamicRegistration": False, "willSave": True, "willSaveWaitUntil": True,
                                "didSave": True},
            "inlineCompletion": {"dynamicRegistration": True},
            "completion": {"dynamicRegistration": False, "contextSupport": True,
                           "completionItem": {"snippetSupport": True}}},
    },
}


class BenchClient:
    """A server for one configuration, and the client side of its connection."""

    def __init__(self, name: str, settings: dict, editor: str = "vscode", threads: int = 1,
                 log_file: Path | None = None, record: Path | None = None) -> None:
        if editor not in EDITOR_CAPABILITIES:
            raise ValueError(f"editor must be one of {sorted(EDITOR_CAPABILITIES)}, got {editor!r}")
        self.name, self.settings, self.editor, self.threads = name, settings, editor, threads
        self.log_file, self.record = log_file, record
        self.lsp = LanguageClient("stipple-bench", "0.1")
        self.spans: dict[Any, dict] = {}
        self.encoding = "utf-16"
        self.status: dict = {}
        self.answered: dict[str, float] = {}  # msg id -> when its response was read
        self.sent_at: dict[str, float] = {}  # msg id -> when it was sent
        self._ids = itertools.count(1)
        self._register()

    def _register(self) -> None:
        lsp = self.lsp

        @lsp.feature(SPANS_METHOD)
        def on_spans(params: Any) -> None:
            params = plain(params)
            self.spans[params.get("lspId")] = params

        @lsp.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def on_progress_create(params: Any) -> None:
            return None

        @lsp.feature(types.PROGRESS)
        def on_progress(params: Any) -> None:
            pass

        @lsp.feature(types.WINDOW_SHOW_MESSAGE)
        def on_message(params: Any) -> None:
            pass

        @lsp.feature(types.WORKSPACE_CONFIGURATION)
        def on_configuration(params: Any) -> list:
            return [self.settings for _ in params.items]

    @property
    def pid(self) -> int | None:
        server = getattr(self.lsp, "_server", None)
        return server.pid if server is not None else None

    async def launch(self) -> None:
        """Start the server subprocess (no LSP traffic yet)."""
        env = {**os.environ, "STIPPLE_THREADS": str(self.threads), "OMP_NUM_THREADS": str(self.threads)}
        args = ["-m", "lsp_server", "serve", "--spans", "--log-level", "warning"]
        if self.log_file:
            args += ["--log-file", str(self.log_file)]
        if self.record:
            args += ["--record", str(self.record)]
        # The client pipes the server's stderr and never reads it: logs must go to a file or nowhere.
        await self.lsp.start_io(sys.executable, *args, env=env)

    async def start(self, timeout: float = 120) -> dict:
        """Start the server, initialize as the editor would, and wait for the model."""
        await self.launch()
        capabilities = self.lsp.protocol._converter.structure(EDITOR_CAPABILITIES[self.editor],
                                                              types.ClientCapabilities)
        result = await self.lsp.initialize_async(types.InitializeParams(
            capabilities=capabilities, process_id=os.getpid(), root_uri=Path.cwd().as_uri(),
            client_info=types.ClientInfo(name=self.editor),
            initialization_options={"stipple": self.settings}))
        self.encoding = str(getattr(result.capabilities.position_encoding, "value", "utf-16") or "utf-16")
        self.lsp.initialized(types.InitializedParams())
        return await self.wait_ready(timeout)

    async def wait_ready(self, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while not (status := await self.execute("stipple.status"))["ready"]:
            if status["error"] or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: model did not load: {status['error'] or 'timeout'}")
            await asyncio.sleep(0.05)
        self.status = status
        return status

    async def execute(self, command: str, *arguments: Any) -> Any:
        return await self.lsp.workspace_execute_command_async(
            types.ExecuteCommandParams(command=command, arguments=list(arguments) or None))

    def request(self, method: str, params: Any) -> tuple[str, asyncio.Future]:
        """Send a request under our own id (so it can be cancelled and matched with its spans)."""
        msg_id = f"{self.name}-{next(self._ids)}"
        self.sent_at[msg_id] = time.perf_counter()  # before sending: the server may answer before we look
        future = self.lsp.protocol.send_request(method, params, msg_id=msg_id)
        future.add_done_callback(lambda _: self.answered.setdefault(msg_id, time.perf_counter()))
        return msg_id, asyncio.wrap_future(future)

    def cancel(self, msg_id: str) -> None:
        self.lsp.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))

    def notify(self, method: str, params: Any) -> None:
        self.lsp.protocol.notify(method, params)

    def peak_rss_mb(self) -> float | None:
        """The server's peak resident set (VmHWM), Linux only."""
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
        except (OSError, ValueError, IndexError):
            pass
        return None

    async def stop(self) -> dict:
        """Final status (counters) and peak RSS, then shutdown/exit."""
        status = await self.execute("stipple.status")
        status["peak_rss_mb"] = self.peak_rss_mb()
        try:
            await asyncio.wait_for(self.lsp.shutdown_async(None), 10)
            self.lsp.exit(None)
        except (asyncio.TimeoutError, Exception):
            pass
        await self.lsp.stop()
        return status


def plain(value: Any) -> Any:
    """pygls hands untyped params over as namedtuples (pygls.protocol.Object); back to dicts and lists."""
    if hasattr(value, "_asdict"):
        return {key: plain(item) for key, item in value._asdict().items()}
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value
