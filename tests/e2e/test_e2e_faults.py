"""Model faults through the real server: each bad model directory is refused with a message to the
editor that names the directory and the reason, the server stays up and answers (empty), and a model
swap by workspace/didChangeConfiguration recovers. A model directory deleted while serving changes
nothing until a reload, which then says so. (Engine faults at run time, out of memory included, are
tested in process: tests/lsp_server/test_faults.py.)"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient

from e2e_helpers import FAST, SERVER, initialize, inline, open_doc, wait_ready

pytestmark = pytest.mark.asyncio(loop_scope="module")
URI = "file:///w/faults.py"


def truncated(d: Path) -> None:
    data = (d / "model.safetensors").read_bytes()
    (d / "model.safetensors").write_bytes(data[: len(data) // 2])


def garbage(d: Path) -> None:
    (d / "model.safetensors").write_bytes(b"\xff" * 8 + b"{not a header")


def wrong_shapes(d: Path) -> None:
    config = json.loads((d / "config.json").read_text())
    (d / "config.json").write_text(json.dumps({**config, "intermediate_size": config["intermediate_size"] * 2}))


def pickle_only(d: Path) -> None:
    (d / "model.safetensors").rename(d / "pytorch_model.bin")


FAULTS = [  # (how the directory is broken, what the message says)
    (truncated, "corrupt weights"),
    (garbage, "corrupt weights"),
    (lambda d: (d / "tokenizer.json").unlink(), "missing tokenizer.json"),
    (wrong_shapes, "weights do not match config"),
    (pickle_only, "pickle, never loaded"),
    (lambda d: shutil.rmtree(d), "does not exist"),
]


@pytest_lsp.fixture(scope="module", config=SERVER)
async def client(lsp_client: LanguageClient, random_model_dir):
    await initialize(lsp_client, {**FAST, "model": str(random_model_dir)})
    assert (await wait_ready(lsp_client))["ready"]
    yield
    await lsp_client.shutdown_session()


async def configure(client: LanguageClient, **settings) -> dict:
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings={"stipple": settings}))
    await asyncio.sleep(0.2)
    return await wait_ready(client)


async def test_bad_model_directories_are_named_and_a_good_one_recovers(client: LanguageClient, tmp_path,
                                                                       random_model_dir):
    open_doc(client, URI, "python", "def area(w, h):\n    return \n")
    for number, (breaks, says) in enumerate(FAULTS):
        bad = tmp_path / f"bad{number}"
        shutil.copytree(random_model_dir, bad)
        breaks(bad)
        client.messages.clear()
        status = await configure(client, model=str(bad))
        assert not status["ready"] and says in status["error"], (says, status["error"])
        for _ in range(50):
            if client.messages:
                break
            await asyncio.sleep(0.1)
        errors = [m.message for m in client.messages if m.type == types.MessageType.Error]
        assert errors and str(bad) in errors[0] and says in errors[0], (says, errors)
        assert await inline(client, URI, types.Position(1, 11)) == []  # answered, empty
        assert (await configure(client, model=str(random_model_dir)))["ready"]


async def test_model_directory_deleted_while_serving(client: LanguageClient, tmp_path, random_model_dir):
    copy = tmp_path / "served"
    shutil.copytree(random_model_dir, copy)
    assert (await configure(client, model=str(copy)))["ready"]
    shutil.rmtree(copy)
    assert isinstance(await inline(client, URI, types.Position(1, 11)), list)  # weights are in memory
    status = await configure(client, dtype="float32")  # a reload reads the directory again
    assert not status["ready"] and "does not exist" in status["error"]
    assert (await configure(client, model=str(random_model_dir)))["ready"]
    assert isinstance(await inline(client, URI, types.Position(1, 11)), list)
