"""RequestSpans: where one completion request spent its time, stage by stage, under its request id.

The server fills one per textDocument/inlineCompletion (or completion) request and, when started with
`stipple serve --spans`, sends it to the client as a `stipple/spans` notification just before the
response. The benchmark harness (benchmarks/latency) reads these; editors ignore an unknown
notification. Params of `stipple/spans`:

    {"lspId": <the JSON-RPC id of the request>, "requestId": "r12" | null, "uri": "...",
     "outcome": "offered" | "typed_through" | "empty" | "skipped" | "not_ready" | "debounced" | "cancelled"
                | "stale" | "error",
     "mode": "single" | "multi" | "skip" | null, "reason": "after code" | ...,
     "stages": {"context": ms, "debounce": ms, "workspace": ms, "plan": ms, "queue": ms, "tokenize": ms, "prefill": ms,
                "denoise": ms, "detokenize": ms, "postprocess": ms},
     "stepsMs": [ms per denoising step, the first one being "prefill"], "totalMs": ms,
     "spanTokens": mask slots, "steps": K asked, "stepsDone": steps run, "generatedTokens": tokens
     in the completion, "prefixChars": n, "suffixChars": n, "reusedTokens": context positions served
     from the document's previous request, "batchSize": requests sharing the forward passes,
     "workspaceChars": characters of workspace context at the start of the prefix, "workspaceFiles": [paths]}

Stages: context = tree-sitter cursor context; debounce = the settings' wait (cancel-previous);
workspace = retrieving other files' definitions (lsp_server/workspace/);
plan = windowing the prefix/suffix by tokens; queue = waiting for the engine's worker thread;
tokenize / detokenize = the engine's own; prefill = the first denoising step, which runs the whole
sequence and fills the context cache; denoise = the remaining steps; postprocess = trimming the text.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from engine.denoise.request import timed

METHOD = "stipple/spans"


@dataclass
class RequestSpans:
    """Stage timings and outcome of one completion request."""

    uri: str = ""
    """The document."""
    lsp_id: Any = None
    """The JSON-RPC request id, so the client can match the spans to its request."""
    request_id: str | None = None
    """The engine's request id (None when the engine never ran)."""
    outcome: str = "cancelled"
    """How the request ended; "cancelled" until told otherwise ($/cancelRequest ends it silently)."""
    mode: str | None = None
    """"single", "multi" or "skip", from the cursor context."""
    reason: str = ""
    """Why that mode."""
    stages_ms: dict[str, float] = field(default_factory=dict)
    """Stage -> milliseconds."""
    steps_ms: list[float] = field(default_factory=list)
    """Each denoising step's milliseconds, in order."""
    span_tokens: int = 0
    """Mask slots asked for."""
    steps: int = 0
    """Denoising steps K asked for."""
    steps_done: int = 0
    """Denoising steps run."""
    generated_tokens: int = 0
    """Tokens in the generated text (pads excluded)."""
    prefix_chars: int = 0
    """Characters of prefix sent to the model."""
    suffix_chars: int = 0
    """Characters of suffix sent to the model."""
    reused_tokens: int = 0
    """Context positions whose keys/values came from the document's previous request."""
    batch_size: int = 0
    """Requests that shared the forward passes (0: the engine never ran)."""
    workspace_chars: int = 0
    """Characters of workspace context before the prefix (included in prefix_chars)."""
    workspace_files: list[str] = field(default_factory=list)
    """The workspace files that context came from, as its header comments name them."""
    started: float = field(default_factory=time.perf_counter)

    def stage(self, name: str) -> AbstractContextManager[None]:
        return timed(self.stages_ms, name)

    def add(self, name: str, ms: float) -> None:
        self.stages_ms[name] = self.stages_ms.get(name, 0.0) + ms

    def as_params(self) -> dict:
        return {"lspId": self.lsp_id, "requestId": self.request_id, "uri": self.uri, "outcome": self.outcome,
                "mode": self.mode, "reason": self.reason,
                "stages": {k: round(v, 3) for k, v in self.stages_ms.items()},
                "stepsMs": [round(v, 3) for v in self.steps_ms],
                "totalMs": round((time.perf_counter() - self.started) * 1000, 3), "startedAt": self.started,
                "spanTokens": self.span_tokens, "steps": self.steps, "stepsDone": self.steps_done,
                "generatedTokens": self.generated_tokens, "prefixChars": self.prefix_chars,
                "suffixChars": self.suffix_chars, "reusedTokens": self.reused_tokens,
                "batchSize": self.batch_size, "workspaceChars": self.workspace_chars,
                "workspaceFiles": self.workspace_files}
