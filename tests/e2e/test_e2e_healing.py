"""Token healing through the real server and the embedded default model: a cursor after `return `
(issue 23) gets ghost text, or the server says the model ended the line (a logged skip, never a
silently dropped result); `stipple complete` answers the same cursors as the server."""

from __future__ import annotations

import subprocess
import sys

import pytest
import pytest_lsp
from pytest_lsp import ClientServerConfig, LanguageClient

from e2e_helpers import (FAST, REPO, SERVER, SERVER_ENV, cursor_of, initialize, inline_with_spans, open_doc,
                         wait_ready)

pytestmark = pytest.mark.asyncio(loop_scope="module")

SPANS_SERVER = ClientServerConfig(server_command=[*SERVER.server_command, "--spans"], server_env=SERVER_ENV)
CURSORS = {  # issue 23's example, and the other places editors ask at
    "file:///w/shapes.py": "import math\n\n\ndef circle_area(radius):\n    return <|>\n",
    "file:///w/call.py": "import math\n\n\ndef hyp(a, b):\n    return math.sqrt(<|>\n",
    "file:///w/word.py": "import math\n\n\ndef circle_ar<|>\n",
}
received: list[dict] = []


@pytest_lsp.fixture(scope="module", config=SPANS_SERVER)
async def client(lsp_client: LanguageClient, model_option: dict):
    lsp_client.feature("stipple/spans")(lambda params: received.append(params))
    lsp_client.initialize_result = await initialize(lsp_client, {**model_option, **FAST})
    yield
    await lsp_client.shutdown_session()


async def outcome_at(client: LanguageClient, uri: str, marked: str) -> tuple[list, dict]:
    text, position = cursor_of(marked)
    open_doc(client, uri, "python", text)
    return await inline_with_spans(client, uri, position, received)


@pytest.mark.parametrize("uri", list(CURSORS))
async def test_a_healed_cursor_is_offered_or_a_logged_skip(client: LanguageClient, uri: str):
    await wait_ready(client)
    items, spans = await outcome_at(client, uri, CURSORS[uri])
    assert spans["mode"] == "single" and spans["stepsDone"] > 0  # the model ran
    if items:
        assert spans["outcome"] == "offered" and items[0].insert_text.strip()
        assert "\n" not in items[0].insert_text
    else:  # never a result dropped for a leading newline without a word
        assert (spans["outcome"], spans["reason"]) in {("skipped", "model ended the line"), ("empty", "after code")}


async def test_stipple_complete_agrees_with_the_server(client: LanguageClient, tmp_path, model_option: dict):
    await wait_ready(client)
    uri = "file:///w/shapes.py"
    items, _ = await outcome_at(client, uri, CURSORS[uri])
    text, position = cursor_of(CURSORS[uri])
    path = tmp_path / "shapes.py"
    path.write_text(text)
    model = ["--model", model_option["model"]] if "model" in model_option else []
    done = subprocess.run([sys.executable, "-m", "lsp_server", "complete",
                           f"{path}:{position.line + 1}:{position.character + 1}", "--steps", str(FAST["steps"]),
                           "--threads", "1", *model], capture_output=True, text=True, cwd=REPO, env=SERVER_ENV,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (items[0].insert_text if items else "") + "\n"
