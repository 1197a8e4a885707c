"""engine/serve/api.py: request validation, limits and response shapes (no Ray)."""

from __future__ import annotations

import json

import pytest

from engine.serve import api


def body(**fields) -> bytes:
    return json.dumps({"prompt": "def f(x):\n    return ", **fields}).encode()


@pytest.mark.parametrize("fields, expect", [
    ({}, {"span_tokens": 96, "steps": 16, "mode": "multi"}),
    ({"suffix": "\n", "max_tokens": 24}, {"span_tokens": 24}),
    ({"stipple": {"steps": 8, "strategy": "threshold", "threshold": 0.5, "mode": "single"}},
     {"steps": 8, "strategy": "threshold", "threshold": 0.5, "mode": "single", "span_tokens": 32}),
    ({"max_tokens": 12, "stipple": {"span_tokens": 40}}, {"span_tokens": 12}),  # OpenAI's field wins
    ({"temperature": 0.7, "seed": 3}, {"temperature": 0.7, "seed": 3}),
    ({"n": 1, "user": "me", "top_p": 1}, {}),
])
def test_valid_requests(fields, expect):
    parsed = api.parse_completion(body(**fields), max_span_tokens=256)
    assert parsed.prompt.endswith("return ")
    for name, value in expect.items():
        assert getattr(parsed.params, name) == value


@pytest.mark.parametrize("raw, status, words", [
    (b"{", 400, "not JSON"),
    (b"[1]", 400, "JSON object"),
    (json.dumps({"suffix": "x"}).encode(), 400, "'prompt'"),
    (body(suffix=3), 400, "'suffix'"),
    (body(n=2), 400, "n=1"),
    (body(frobnicate=1), 400, "unknown fields: frobnicate"),
    (body(stipple={"stepz": 3}), 400, "unknown 'stipple' parameters: stepz"),
    (body(stipple={"steps": 0}), 400, "steps must be >= 1"),
    (body(stipple={"strategy": "vibes"}), 400, "strategy must be one of"),
    (body(max_tokens=1000), 400, "over this deployment's limit 256"),
    (body(stream="yes"), 400, "'stream'"),
    (body(suffix="x" * 300_000), 413, "over the limit"),
])
def test_refused_requests(raw, status, words):
    with pytest.raises(api.ApiError) as caught:
        api.parse_completion(raw, max_span_tokens=256)
    assert caught.value.status == status
    assert words in caught.value.message
    error = caught.value.body()["error"]
    assert error["message"] == caught.value.message and error["type"]


def test_prompt_may_be_a_one_element_list():
    assert api.parse_completion(json.dumps({"prompt": ["x = "]}).encode(), 64).prompt == "x = "


def test_response_shapes_follow_openai():
    done = api.completion_body("cmpl-1", "m", "a + b", "stop", {"prompt_tokens": 3, "completion_tokens": 2,
                                                                "total_tokens": 5}, {"steps": 8})
    assert done["object"] == "text_completion" and done["choices"][0] == {
        "text": "a + b", "index": 0, "logprobs": None, "finish_reason": "stop"}
    assert api.sse("[DONE]") == b"data: [DONE]\n\n"
    assert json.loads(api.sse(done)[len(b"data: "):]) == done
    assert api.models_body("m", {})["data"][0]["id"] == "m"


@pytest.mark.parametrize("header, token", [
    (None, None), ("", None), ("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", None),
])
def test_bearer_token(header, token):
    assert api.bearer_token(header) == token
