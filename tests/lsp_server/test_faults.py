"""Faults inside a running server (in process): the engine runs out of memory or fails mid-request.
The request is answered empty, the editor gets one message (not one per keystroke), stipple.status
names the fault, stored contexts are dropped, and the next request runs again.
"""

from __future__ import annotations

import pytest
import pytest_asyncio
import torch
from lsprotocol import types

from lsp_server.documents import Document
from lsp_server.handlers import create_server, safely
from lsp_server.languages import language_for
from lsp_server.settings import Settings

URI = "file:///w/fault.py"
TEXT = "def area(width, height):\n    result = "


@pytest_asyncio.fixture
async def server(random_model_dir, monkeypatch):
    ls = create_server()
    ls.settings = Settings(model=str(random_model_dir), steps=2, max_span_tokens=8, debounce_ms=0, threads=1,
                           workspace_context=False)
    await ls.bridge.load(ls.settings)
    assert ls.bridge.ready, ls.bridge.error
    ls.shown_messages = []
    monkeypatch.setattr(ls, "window_show_message", lambda params: ls.shown_messages.append(params))
    ls.documents[URI] = Document(URI, "python", 1, TEXT, language=language_for("python"))
    yield ls
    ls.bridge.shutdown()


def raising(error: BaseException):
    def generate_batch(*args, **kwargs):
        raise error
    return generate_batch


FAULTS = [  # (what the engine raises, what the editor and stipple.status are told)
    (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), "out of memory"),
    (MemoryError(), "out of memory"),
    (RuntimeError("expected scalar type Float but found BFloat16"), "the engine failed: RuntimeError"),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("error, told", FAULTS)
async def test_engine_fault_is_answered_shown_once_and_recovered(server, monkeypatch, error, told):
    position = types.Position(1, len("    result = "))
    await safely(server, URI, position)  # a healthy first run fills the context store
    engine = server.bridge.engine
    monkeypatch.setattr(engine, "generate_batch", raising(error))
    for _ in range(3):  # a fault on every keystroke is still one message
        assert await safely(server, URI, position) is None
    assert told in server.bridge.fault
    errors = [m for m in server.shown_messages if m.type == types.MessageType.Error]
    assert len(errors) == 1 and told in errors[0].message, server.shown_messages
    if told == "out of memory":
        assert not engine.contexts.entries  # stored document contexts were given back
    monkeypatch.undo()
    await safely(server, URI, position)  # runs through again (a random model may offer nothing)
    assert server.bridge.fault is None and server.counters.generated >= 1
