"""The HTTP API's objects: OpenAI-compatible completions with true infill. No Ray, no torch.

    POST /v1/completions  {"prompt", "suffix"?, "max_tokens"?, "stream"?, "temperature"?, "seed"?,
                           "model"?, "stipple"?: {DenoiseParams fields: "steps", "strategy",
                           "threshold", "mode", "block_length", ...}}
    GET  /v1/models

`prompt` and `suffix` are the text before and after the cursor; the completion is exactly the text
between them (the masked span). `max_tokens` is the span's slot count (DenoiseParams.span_tokens).
Responses are shaped as OpenAI's (`text_completion`, choices, usage) with an extra "stipple" object
(steps run, request id, timings). Errors are OpenAI's {"error": {"message", "type", "code"}}.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from engine.denoise.params import DenoiseParams

MAX_BODY_BYTES = 256 * 1024  # a prompt + suffix far beyond any context budget is refused, not cut
PARAM_FIELDS = frozenset(f.name for f in dataclasses.fields(DenoiseParams))
# OpenAI fields with a DenoiseParams meaning; the rest of OpenAI's sampling knobs are refused.
OPENAI_TO_PARAMS = {"max_tokens": "span_tokens", "temperature": "temperature", "seed": "seed"}
IGNORED_OPENAI = frozenset({"user", "n", "best_of", "echo", "logprobs", "stop", "presence_penalty",
                            "frequency_penalty", "logit_bias", "top_p", "stream_options"})


class ApiError(Exception):
    """An error answered as OpenAI does: status, {"error": {"message", "type", "code"}}."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code

    @property
    def kind(self) -> str:
        return {401: "authentication_error", 404: "not_found_error", 413: "invalid_request_error",
                429: "rate_limit_error"}.get(self.status, "invalid_request_error" if self.status < 500
                                              else "server_error")

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.kind, "code": self.code}}


@dataclass
class CompletionRequest:
    """One validated POST /v1/completions body."""

    prompt: str
    """The text before the cursor."""
    suffix: str
    """The text after the cursor."""
    params: DenoiseParams
    """How to denoise the span (max_tokens -> span_tokens, plus the "stipple" extension)."""
    stream: bool = False
    """Server-sent events: the settled text after each denoising step, then [DONE]."""
    model: str | None = None
    """The model the caller asked for (must be the one served, when given)."""
    extra: dict = field(default_factory=dict)
    """Accepted OpenAI fields that change nothing here (n=1, echo=false, ...)."""


def parse_completion(raw: bytes, max_span_tokens: int, max_body_bytes: int = MAX_BODY_BYTES) -> CompletionRequest:
    """Validate a request body; ApiError(400/413) says what is wrong."""
    if len(raw) > max_body_bytes:
        raise too_large(len(raw), max_body_bytes)
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"the body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "the body must be a JSON object")
    prompt = data.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1:  # OpenAI also takes a one-element list
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise ApiError(400, "'prompt' must be a string (the text before the cursor)", "invalid_prompt")
    suffix = data.get("suffix") or ""
    if not isinstance(suffix, str):
        raise ApiError(400, "'suffix' must be a string (the text after the cursor)")
    if data.get("n", 1) != 1 or data.get("best_of", 1) != 1 or data.get("echo", False):
        raise ApiError(400, "only n=1, best_of=1 and echo=false are supported")
    unknown = set(data) - {"prompt", "suffix", "stream", "model", "stipple", *OPENAI_TO_PARAMS, *IGNORED_OPENAI}
    if unknown:
        raise ApiError(400, f"unknown fields: {', '.join(sorted(unknown))}")
    params = denoise_params(data, max_span_tokens)
    stream = data.get("stream", False)
    if not isinstance(stream, bool):
        raise ApiError(400, "'stream' must be true or false")
    model = data.get("model")
    if model is not None and not isinstance(model, str):
        raise ApiError(400, "'model' must be a string")
    return CompletionRequest(prompt, suffix, params, stream, model,
                             {k: v for k, v in data.items() if k in IGNORED_OPENAI})


def denoise_params(data: dict, max_span_tokens: int) -> DenoiseParams:
    """DenoiseParams from the OpenAI fields and the "stipple" extension, by field name; DenoiseParams
    validates, its error becomes a 400."""
    ext = data.get("stipple") or {}
    if not isinstance(ext, dict):
        raise ApiError(400, "'stipple' must be an object of denoising parameters")
    unknown = set(ext) - PARAM_FIELDS
    if unknown:
        raise ApiError(400, f"unknown 'stipple' parameters: {', '.join(sorted(unknown))} "
                            f"(known: {', '.join(sorted(PARAM_FIELDS))})")
    values = {**ext, **{OPENAI_TO_PARAMS[k]: data[k] for k in OPENAI_TO_PARAMS if data.get(k) is not None}}
    for name, value in values.items():
        if isinstance(value, (dict, list)):
            raise ApiError(400, f"'{name}' must be a number, string or boolean")
    try:
        params = DenoiseParams(**values)
    except (TypeError, ValueError) as exc:
        raise ApiError(400, str(exc)) from exc
    if "span_tokens" not in values:  # the mode's default, within this deployment's limit
        params.span_tokens = min(params.span_tokens, max_span_tokens)
    if params.span_tokens > max_span_tokens:
        raise ApiError(400, f"max_tokens {params.span_tokens} is over this deployment's limit {max_span_tokens}")
    return params


def too_large(size: int, limit: int) -> ApiError:
    return ApiError(413, f"request body of {size} bytes is over the limit of {limit} bytes", "request_too_large")


def completion_id() -> str:
    return f"cmpl-{uuid.uuid4().hex}"


def completion_body(cid: str, model: str, text: str, finish_reason: str, usage: dict, stipple: dict) -> dict:
    return {"id": cid, "object": "text_completion", "created": int(time.time()), "model": model,
            "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish_reason}],
            "usage": usage, "stipple": stipple}


def chunk_body(cid: str, model: str, text: str, finish_reason: str | None, stipple: dict) -> dict:
    """One server-sent event of a streamed completion (OpenAI's chunks have the same object name)."""
    return {"id": cid, "object": "text_completion", "created": int(time.time()), "model": model,
            "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish_reason}],
            "stipple": stipple}


def sse(data: dict | str) -> bytes:
    return f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n".encode()


def models_body(model: str, details: dict) -> dict:
    return {"object": "list", "data": [{"id": model, "object": "model", "created": 0, "owned_by": "stipple",
                                        "stipple": details}]}


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None
