"""What the fuzzer sends: hypothesis strategies for bad LSP input, and draw() to take N of them.

Each Input is a list of items sent back to back: a dict is one JSON-RPC message (framed on the way
out; an "id" of ANSWER is replaced by a fresh string id that must be answered), bytes go out as they
are (broken framing, invalid JSON). The kinds: broken framing, invalid JSON, odd ids, wrong types,
missing fields, impossible positions, lone UTF-16 surrogates, binary text, unknown language ids,
rapid open/change/close of one URI, requests for closed documents, random methods and settings.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

ANSWER = "<answer me>"
URIS = ["file:///f/a.py", "file:///f/b.ts", "file:///f/c.rs", "file:///f/d.go", "file:///f/e.js",
        "untitled:Untitled-1", "file:///f/%E2%9C%93.py", "file:///../../etc/passwd"]
LANGUAGES = ["python", "typescript", "rust", "go", "javascript", "typescriptreact", "cobol", "", "PYTHON",
             "python\u0000", "x" * 300]
CODE = ["def f(x):\n    return ", "import os\n", "class A:\n    def m(self):\n        ", "fn main() {\n    let x = ",
        "package main\n\nfunc f() int {\n\treturn ", "const x = ", "\r\n", "\r", "\t", "😀", "é", "\u2028", "\x00",
        "'''", '"', "#", "//", "{", "}", "\n" * 5]
SURROGATES = ["\ud800", "\udfff", "\ud83d", "\ude00", "\udc00\ud800"]
METHODS = ["textDocument/inlineCompletion", "textDocument/completion", "workspace/executeCommand",
           "textDocument/hover", "textDocument/definition", "completionItem/resolve", "$/cancelRequest",
           "$/setTrace", "workspace/didChangeWorkspaceFolders", "textDocument/didSave", "stipple/unknown", "",
           "textDocument/didOpen", "textDocument/didChange", "textDocument/didClose"]
COMMANDS = ["stipple.status", "stipple.accept", "stipple.reject", "stipple.workspaceContext", "stipple.nope",
            "stipple.selectNextWord", "stipple.selectNextLine"]
ENDINGS = ("exit", "shutdown")  # the messages that end a session by design: tested apart (tests/e2e/test_e2e_wire.py)
SETTING_KEYS = ["steps", "maxSpanTokens", "maxPrefixTokens", "maxSuffixTokens", "debounceMs", "strategy",
                "threshold", "languages", "logLevel", "reuseContext", "healCursor", "workspaceBudgetShare",
                "workspaceContext", "workspaceExclude", "unknownKey"]


@dataclass
class Input:
    kind: str
    items: list[Any] = field(default_factory=list)
    resync: bool = False
    """The framing may be broken: send probes until one is answered."""


scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**64), st.floats(allow_nan=False),
                    st.text(max_size=12))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                             st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                           max_leaves=6)
numbers = st.one_of(st.integers(0, 40), st.integers(-2**31, -1), st.integers(2**20, 2**64), st.just(2**31 - 1))
texts = st.lists(st.one_of(st.sampled_from(CODE), st.text(max_size=16), st.sampled_from(SURROGATES),
                           st.binary(max_size=16).map(lambda b: b.decode("latin-1"))), max_size=12).map("".join)
uris = st.one_of(st.sampled_from(URIS), st.text(max_size=20))
positions = st.fixed_dictionaries({"line": numbers, "character": numbers})


def request(method: str, params: Any) -> dict:
    return {"jsonrpc": "2.0", "id": ANSWER, "method": method, "params": params}


def notification(method: str, params: Any) -> dict:
    return {"jsonrpc": "2.0", "method": method, "params": params}


def did_open(uri: str, language: str, version: int, text: str) -> dict:
    return notification("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": language,
                                                                  "version": version, "text": text}})


def completion(uri: str, position: dict, inline: bool = True) -> dict:
    params = {"textDocument": {"uri": uri}, "position": position}
    if inline:
        params["context"] = {"triggerKind": 2}
    return request("textDocument/inlineCompletion" if inline else "textDocument/completion", params)


@st.composite
def lifecycle(draw) -> Input:
    """Rapid open/change/close of one URI with odd texts, languages and versions, then requests."""
    uri = draw(st.sampled_from(URIS))
    languages = st.sampled_from(["python"] * len(LANGUAGES) + LANGUAGES)  # half the time, one the model serves
    items: list[Any] = [did_open(uri, draw(languages), draw(numbers), draw(texts))]
    for _ in range(draw(st.integers(0, 6))):
        op = draw(st.sampled_from(["change", "change_full", "close", "open", "complete"]))
        if op == "change":
            change = {"range": {"start": draw(positions), "end": draw(positions)}, "text": draw(texts)}
        elif op == "change_full":
            change = {"text": draw(texts)}
        if op.startswith("change"):
            items.append(notification("textDocument/didChange", {
                "textDocument": {"uri": uri, "version": draw(numbers)}, "contentChanges": [change]}))
        elif op == "close":
            items.append(notification("textDocument/didClose", {"textDocument": {"uri": uri}}))
        elif op == "open":
            items.append(did_open(uri, draw(languages), draw(numbers), draw(texts)))
        else:
            items.append(completion(uri, draw(positions), draw(st.booleans())))
    items.append(completion(uri, draw(positions), draw(st.booleans())))  # often a closed document
    return Input("lifecycle", items)


def mutate(value: Any, draw) -> Any:
    """value with one field dropped or one leaf replaced by a random JSON value (wrong types)."""
    if not isinstance(value, dict) or not value:
        return draw(json_values)
    key = draw(st.sampled_from(sorted(value)))
    copy = dict(value)
    action = draw(st.sampled_from(["drop", "replace", "descend"]))
    if action == "drop":
        del copy[key]
    elif action == "replace" or not isinstance(copy[key], dict):
        copy[key] = draw(json_values)
    else:
        copy[key] = mutate(copy[key], draw)
    return copy


@st.composite
def malformed_request(draw) -> Input:
    """A well-formed request with a field dropped or of the wrong type (params, or the envelope)."""
    base = draw(st.sampled_from([
        completion(draw(st.sampled_from(URIS)), draw(positions)),
        completion(draw(st.sampled_from(URIS)), draw(positions), inline=False),
        request("workspace/executeCommand", {"command": draw(st.sampled_from(COMMANDS)),
                                             "arguments": [draw(st.sampled_from(URIS)), draw(positions)]}),
    ]))
    if draw(st.booleans()):
        base["params"] = mutate(base["params"], draw)
    else:
        base = {**base, draw(st.sampled_from(["jsonrpc", "params"])): draw(json_values)}
    return Input("wrong types / missing fields", [base])


@st.composite
def odd_request(draw) -> Input:
    """Any method (known, unknown, notifications sent as requests) with random params."""
    method = draw(st.one_of(st.sampled_from(METHODS), st.text(max_size=20).filter(lambda m: m not in ENDINGS)))
    params = draw(st.one_of(json_values, st.just({"command": draw(st.sampled_from(COMMANDS)),
                                                  "arguments": draw(st.lists(json_values, max_size=3))})))
    return Input("random methods", [request(method, params)])


@st.composite
def odd_id(draw) -> Input:
    """Ids of every JSON type; only integers and strings are promised an answer."""
    msg_id = draw(st.one_of(st.none(), st.floats(allow_nan=False), st.booleans(), st.lists(st.integers(), max_size=2),
                            st.integers(-2**63, 2**63), st.text(max_size=300)))
    message = {"jsonrpc": "2.0", "id": msg_id, "method": "workspace/executeCommand",
               "params": {"command": "stipple.status"}}
    return Input("odd ids", [message])


@st.composite
def positions_on_open_document(draw) -> Input:
    uri = draw(st.sampled_from(URIS[:5]))
    text = draw(st.sampled_from(CODE)) + draw(texts)
    return Input("impossible positions", [did_open(uri, "python", 1, text), completion(uri, draw(positions)),
                                          completion(uri, draw(positions), inline=False)])


@st.composite
def settings_change(draw) -> Input:
    """Random values for the settings a fuzzer may touch (not model/device: a reload is tested apart)."""
    data = draw(st.dictionaries(st.sampled_from(SETTING_KEYS), json_values, max_size=4))
    return Input("random settings", [notification("workspace/didChangeConfiguration", {"settings": {"stipple": data}}),
                                     completion(URIS[0], {"line": 0, "character": 0})])


@st.composite
def broken_framing(draw) -> Input:
    body = json.dumps(request("workspace/executeCommand", {"command": "stipple.status"})).encode()
    n = len(body)
    raw = draw(st.sampled_from([
        b"Content-Length: %d\r\n\r\n" % (n - draw(st.integers(1, n))) + body,  # too short
        b"Content-Length: %d\r\n\r\n" % (n + draw(st.integers(1, 200))) + body,  # too long (eats what follows)
        body,  # no header
        b"Content-Length: abc\r\n\r\n" + body,
        b"Content-Length: -5\r\n\r\n" + body,
        b"Content-Length: 0\r\n\r\n" + body,
        b"Content-Length: %d\n\n" % n + body,  # LF only
        b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n" + body,  # no length
        b"Content-Length: %d\r\nContent-Length: 3\r\n\r\n" % n + body,
        b"Content-Length: %d\r\n\r\n" % draw(st.sampled_from([2**28 + 1, 10**12, 2**63])) + body,  # oversized
        b"\r\n" * draw(st.integers(1, 5)),
        draw(st.binary(min_size=1, max_size=300)),
        b"Content-Length: " + draw(st.binary(max_size=30)) + b"\r\n\r\n" + body,
    ]))
    return Input("broken framing", [raw.replace(b'"' + ANSWER.encode() + b'"', b'"framing"')], resync=True)


@st.composite
def invalid_json(draw) -> Input:
    body = draw(st.one_of(
        st.binary(max_size=200),
        st.sampled_from([b"", b"{", b"null", b"[]", b"[1,2]", b'"x"', b"1e999999", b"{\"jsonrpc\":", b"\xff\xfe\x00",
                         b'{"jsonrpc":"2.0","id":1,"method":"x","params":' + b"[" * 100_000 + b"]" * 100_000,
                         b'{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":' * 2000,
                         b'{"a":' * 5000 + b"1" + b"}" * 5000]),
        json_values.map(lambda v: json.dumps(v).encode())))
    return Input("invalid JSON", [b"Content-Length: %d\r\n\r\n" % len(body) + body])


def any_input() -> st.SearchStrategy[Input]:
    kinds = [lifecycle(), malformed_request(), odd_request(), odd_id(), positions_on_open_document(),
             settings_change(), broken_framing(), invalid_json()]
    return st.integers(0, len(kinds) - 1).flatmap(lambda i: kinds[i])  # each kind equally often


def draw(count: int, seed: int = 0) -> list[Input]:
    """count inputs, reproducibly for a seed (hypothesis's generate phase only, no example database)."""
    out: list[Input] = []

    @hypothesis_seed(seed)
    @settings(max_examples=count, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(any_input())
    def collect(value: Input) -> None:
        out.append(value)

    with no_local_constants():
        collect()
    return out[:count]


@contextmanager
def no_local_constants():
    """Hypothesis seeds text with string constants of the local modules loaded at the time, so the same
    seed would draw differently under pytest than under the benchmark (and draws "exit" once wire.py is
    loaded). Switched off here, through a private hook: without it, draws still work, less reproducibly."""
    try:
        from hypothesis.internal.conjecture import providers
        original = providers._get_local_constants
    except (ImportError, AttributeError):
        yield
        return
    providers._get_local_constants = lambda: providers.Constants()
    try:
        yield
    finally:
        providers._get_local_constants = original


def heavy(size_mb: int = 10) -> list[Input]:
    """Big documents: size_mb of Python, of one line, and of binary bytes, each opened, completed and closed."""
    n = size_mb * 2**20
    line = "value = compute(alpha, beta) + 1\n"
    python = line * (n // len(line))
    binary = bytes(range(256)).decode("latin-1") * (n // 256)
    inputs = []
    for name, text in (("python", python), ("one line", "x" * n), ("binary", binary)):
        uri = f"file:///heavy/{name.replace(' ', '_')}.py"
        mid = {"line": text.count("\n", 0, len(text) // 2), "character": 3}
        inputs.append(Input(f"{size_mb} MB document ({name})", [
            did_open(uri, "python", 1, text), completion(uri, mid), completion(uri, {"line": 0, "character": 0}),
            notification("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2},
                                                    "contentChanges": [{"range": {"start": mid, "end": mid},
                                                                        "text": "z"}]}),
            completion(uri, mid, inline=False),
            notification("textDocument/didClose", {"textDocument": {"uri": uri}}), completion(uri, mid)]))
    return inputs
