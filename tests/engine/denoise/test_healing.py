"""Token healing's vocabulary side: allowed-token masks, the lead walk, and every completer writing the
lead back at every kind of cursor."""

from __future__ import annotations

import pytest
import torch

from engine.ar.twin import AREngine
from engine.denoise.config import EngineConfig
from engine.denoise.engine import Engine
from engine.denoise.healing import Vocabulary, constrain_span, keep_lead, lead_position
from engine.denoise.layout import heal
from engine.denoise.params import DenoiseParams
from engine.denoise.strategies import DenoiseState

TEXTS = ["", " ", "  ", " r", " radius", " return", "\n", "\n   ", "\n    ", "\n        ", "ar", "area",
         "are", "a", "(", "()", "((", "x", "\r\n", ""]
MASK = 19  # a special id: its text is "" (decode drops it)


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary(TEXTS)


def texts_of(vocab: Vocabulary, mask: torch.Tensor | None) -> set[str]:
    return set() if mask is None else {vocab.texts[i] for i in mask.nonzero().flatten().tolist()}


@pytest.mark.parametrize(("lead", "prefixes", "expected"), [
    (" ", True, {" ", "  ", " r", " radius", " return"}),
    (" r", True, {" r", " radius", " return", " "}),
    ("ar", True, {"ar", "area", "are", "a"}),
    ("ar", False, {"ar", "area", "are"}),
    ("\n    ", True, {"\n    ", "\n        ", "\n", "\n   "}),
    ("\n    ", False, {"\n    ", "\n        "}),
    ("(", True, {"(", "()", "(("}),
    ("\r\n", True, {"\r\n"}),
    ("é", True, set()),  # nothing may begin it: None, the span is left free
])
def test_allowed_tokens(vocab, lead, prefixes, expected):
    assert texts_of(vocab, vocab.allowed(lead, prefixes)) == expected


def test_masks_are_cached_and_special_ids_never_allowed(vocab):
    assert vocab.allowed(" ") is vocab.allowed(" ")
    assert not vocab.allowed(" ")[0] and not vocab.allowed(" ")[MASK]


@pytest.mark.parametrize(("lead", "texts", "slot", "rest", "beyond", "strayed"), [
    (" ", [None, None], 0, " ", "", False),
    (" ", [" radius", None], 1, "", "radius", False),
    ("\n    ", ["\n   ", None], 1, " ", "", False),
    ("\n    ", ["\n   ", " return"], 2, "", "return", False),
    ("\n    ", ["\n   ", "return"], 1, " ", "", True),
    ("ar", ["", None], 0, "ar", "", True),  # a pad inside the lead
    ("", [None], 0, "", "", False),
])
def test_lead_position(lead, texts, slot, rest, beyond, strayed):
    assert lead_position(lead, texts) == type(lead_position("", []))(slot, rest, beyond, strayed)


def state_of(span: list[int], masked: list[bool]) -> DenoiseState:
    return DenoiseState(torch.tensor([span]), torch.tensor([masked]), sum(masked))


def test_constrain_span_restricts_the_open_slot_only(vocab):
    logits = torch.zeros(1, 3, len(TEXTS))  # (1, L, V)
    constrain_span(logits, state_of([MASK] * 3, [True] * 3), "\n    ", vocab, last_step=False)
    assert texts_of(vocab, logits[0, 0] > float("-inf")) == {"\n    ", "\n        ", "\n", "\n   "}
    assert bool((logits[0, 1:] == 0).all())
    last = torch.zeros(1, 3, len(TEXTS))
    constrain_span(last, state_of([MASK] * 3, [True] * 3), "\n    ", vocab, last_step=True)
    assert texts_of(vocab, last[0, 0] > float("-inf")) == {"\n    ", "\n        "}  # no half lead at the end
    after = torch.zeros(1, 3, len(TEXTS))
    constrain_span(after, state_of([TEXTS.index("\n   "), MASK, MASK], [False, True, True]), "\n    ", vocab, False)
    assert texts_of(vocab, after[0, 1] > float("-inf")) == {" ", "  ", " r", " radius", " return"}


def test_keep_lead_masks_a_neighbour_committed_against_the_lead(vocab):
    before = state_of([MASK] * 3, [True] * 3)
    after = state_of([TEXTS.index("\n   "), TEXTS.index("x"), MASK], [False, False, True])
    kept = keep_lead(before, after, "\n    ", vocab, pad_id=0, steps_left=2)
    assert kept.masked[0].tolist() == [False, True, True] and kept.span[0, 1] == MASK and kept.num_masked == 2
    assert keep_lead(before, after, "\n    ", vocab, pad_id=0, steps_left=0) is after  # the last step stands


CURSORS = [  # (prefix, suffix): one per cursor kind, real code
    ("import math\n\n\ndef circle_area(radius):\n    return ", "\n"),
    ("def f(xs):\n    total = ", "\n    return total\n"),
    ("def f(xs):\n    total = sum(", "\n"),
    ("def f(a, b):\n    return max(a, ", "\n"),
    ("import math\n\n\ndef circle_ar", "\n"),
    ('def greet(name):\n    print("Hello, wor', '")\n'),
    ("def f(x):\n    # compute the", "\n    return x\n"),
    ("def f(x):\n", "    return x\n"),
    ("def f(x):\n    for v in x:\n        ", "\n"),
    ("fn area(w: u32) -> u32 {\n    let v = Vec::", "\n}\n"),
]


@pytest.fixture(scope="module")
def engines(random_model_dir):
    config = EngineConfig(model_dir=random_model_dir, device="cpu", dtype="float32")
    return {"diffusion": Engine(config), "ar-fim": AREngine(config, fim=True),
            "ar-prefix": AREngine(config, fim=False)}


@pytest.mark.parametrize("completer", ["diffusion", "ar-fim", "ar-prefix"])
@pytest.mark.parametrize(("prefix", "suffix"), CURSORS)
def test_every_completer_writes_the_lead_back(engines, completer, prefix, suffix):
    engine = engines[completer]
    if completer != "diffusion":
        engine.stop_ids = frozenset()  # random weights: run the budget rather than stop at once
    request = engine.infill(prefix, suffix, DenoiseParams(steps=4, span_tokens=8, mode="multi"))
    layout = heal(prefix, suffix)
    assert engine.tokenizer.decode(request.span_ids).startswith(layout.lead)


@pytest.mark.parametrize("params", [
    DenoiseParams(steps=2, span_tokens=8, strategy="threshold", threshold=0.0),  # all at once, early
    DenoiseParams(steps=8, span_tokens=8, block_length=2),
    DenoiseParams(steps=3, span_tokens=12, remask=True),
    DenoiseParams(steps=1, span_tokens=4),
])
@pytest.mark.parametrize("prefix", ["def f(x):\n    ", "x = [1, 2, 3]\ny = sorted(", "def circle_ar"])
def test_the_diffusion_span_begins_with_the_lead_under_every_strategy(engines, params, prefix):
    engine = engines["diffusion"]
    request = engine.infill(prefix, "\n", params)
    assert engine.tokenizer.decode(request.span_ids).startswith(heal(prefix, "\n").lead)
    assert request.num_masked == 0


def test_healing_off_is_the_rule_before_it(engines):
    engine = engines["diffusion"]
    request = engine.infill("x = ", "\n", DenoiseParams(steps=2, span_tokens=4, heal_cursor=False))
    assert request.prefix_ids == engine.tokenizer.encode("x = ")
