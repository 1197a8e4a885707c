"""The autoregressive twin: PSM layout, cached greedy decoding, stopping rules, the ar-fim objective."""

from __future__ import annotations

import json
import math
import random
import shutil

import pytest
import torch

from engine.ar.fim import SMOLLM2_FIM_TOKENS, fim_tokens
from engine.ar.twin import AREngine, build_engine
from engine.denoise.config import EngineConfig
from engine.denoise.engine import Cancelled
from engine.denoise.layout import heal
from engine.denoise.params import COMPLETERS
from engine.denoise.params import DenoiseParams
from engine.denoise.request import RequestStatus, SpanRequest
from engine.train import ar_objective
from engine.weights.tokenizer import SpecialTokens, Tokenizer

PREFIX = "def area(width, height):\n    total = "
SUFFIX = "\n    return total\n"


@pytest.fixture(scope="module")
def twin(random_model_dir) -> AREngine:
    return AREngine(EngineConfig(model_dir=random_model_dir, device="cpu"), fim=True)


@pytest.fixture(scope="module")
def prefix_only(random_model_dir) -> AREngine:
    return AREngine(EngineConfig(model_dir=random_model_dir, device="cpu"), fim=False)


def test_psm_prompt_is_the_exact_token_sequence(twin):
    tok, fim = twin.tokenizer, twin.fim
    assert (fim.prefix, fim.suffix, fim.middle) == tuple(tok.token_to_id(f"<|{r}|>") for r in
                                                         ("fim_prefix", "fim_suffix", "fim_middle"))
    layout, prompt = twin.prompt_ids(SpanRequest(PREFIX, SUFFIX))
    assert layout.lead == " "  # token healing: the middle writes the trailing space back
    assert prompt == [fim.prefix, *tok.encode(PREFIX[:-1]), fim.suffix, *tok.encode(SUFFIX), fim.middle]
    # A line-start cursor: the prefix's newline moves into the middle, the line's own into the suffix.
    _, prompt = twin.prompt_ids(SpanRequest("x = 1\n", "y = 2\n"))
    assert prompt == [fim.prefix, *tok.encode("x = 1"), fim.suffix, *tok.encode("\ny = 2\n"), fim.middle]


def test_prefix_only_prompt_ignores_the_suffix(prefix_only):
    layout, prompt = prefix_only.prompt_ids(SpanRequest(PREFIX, SUFFIX))
    assert prompt == prefix_only.tokenizer.encode(layout.prefix) and layout.prefix + layout.lead == PREFIX
    assert prefix_only.prompt_ids(SpanRequest("", SUFFIX))[1] == [prefix_only.special.eos]


@pytest.mark.parametrize("fim", [True, False])
def test_kv_cache_decoding_equals_full_recompute(random_model_dir, fim):
    # float32: the cached and the full pass multiply different shapes, which bf16 rounds differently.
    engine = AREngine(EngineConfig(model_dir=random_model_dir, device="cpu", dtype="float32"), fim=fim)
    engine.stop_ids = frozenset()  # run the whole budget, whatever the random weights prefer
    request = SpanRequest(PREFIX, SUFFIX, DenoiseParams(mode="multi", span_tokens=10))
    layout, prompt = engine.prompt_ids(SpanRequest(PREFIX, SUFFIX))
    cached: list[torch.Tensor] = []
    engine.generate(request, step_logits=cached)
    assert len(request.span_ids) == request.steps_done == len(cached) == 10
    with torch.no_grad():
        for t, logits in enumerate(cached):
            full = engine.model(torch.tensor([prompt + request.span_ids[:t]]), causal=True)[0, -1]  # (V,)
            torch.testing.assert_close(logits, full, atol=1e-5, rtol=1e-4)
            assert int(engine.constrain(full, request.span_ids[:t], layout, "multi").argmax()) == request.span_ids[t]


def test_single_line_stops_at_its_newline(twin, monkeypatch):
    monkeypatch.setattr(twin, "stop_ids", frozenset())
    request = twin.infill("def f(x):\n", "    return x\n", DenoiseParams(mode="single", span_tokens=24))
    body = [twin.body(request.span_ids[:n], heal("def f(x):\n", "    return x\n"))
            for n in (len(request.span_ids) - 1, len(request.span_ids))]
    assert twin.newline_first[request.span_ids[0]]  # the healed lead: the line starts with its newline
    assert len(request.span_ids) == 24 or ("\n" not in body[0] and "\n" in body[1])
    assert request.text.endswith("\n") and request.text.count("\n") == 1


def test_eos_ends_the_middle_and_is_not_text(twin, monkeypatch):
    def eos_third(logits, out, layout, mode):  # content twice, then eos
        logits = logits.clone()
        if len(out) == 2:
            logits.fill_(-1e9)
            logits[twin.special.eos] = 0.0
        else:
            logits[sorted(twin.stop_ids)] = -1e9
        return logits

    monkeypatch.setattr(twin, "constrain", eos_third)
    request = twin.infill(PREFIX, SUFFIX, DenoiseParams(mode="multi", span_tokens=20))
    assert len(request.span_ids) == 2 and request.steps_done == 3
    assert twin.special.eos not in request.span_ids
    assert request.text == twin.tokenizer.decode(request.span_ids)
    assert request.status is RequestStatus.FINISHED


def test_a_single_line_has_content_before_it_may_end(twin):
    """A bare newline, then eos, would be a blank line: while the line is blank, eos is not allowed."""
    def prefer_eos(logits):
        logits = logits.clone()
        logits[twin.special.eos] = 1e4
        return logits

    lead = heal("def f(x):\n", "    return x\n")
    first = torch.zeros(twin.loaded.args.vocab_size)
    assert twin.newline_first[int(twin.constrain(prefer_eos(first), [], lead, "single").argmax())]
    newline = twin.tokenizer.encode("\n")
    after_newline = twin.constrain(prefer_eos(first), newline, lead, "single")
    token = int(after_newline.argmax())
    assert token != twin.special.eos and not twin.newline_first[token]
    content = twin.tokenizer.encode("\n    return")
    assert int(twin.constrain(prefer_eos(first), content, lead, "single").argmax()) == twin.special.eos
    assert int(twin.constrain(prefer_eos(first), newline, lead, "multi").argmax()) == twin.special.eos


def test_cancel_between_tokens(twin, monkeypatch):
    monkeypatch.setattr(twin, "stop_ids", frozenset())
    calls = iter([False, True])
    request = SpanRequest(PREFIX, SUFFIX, DenoiseParams(span_tokens=8))
    with pytest.raises(Cancelled):
        twin.generate(request, should_stop=lambda: next(calls))
    assert request.status is RequestStatus.CANCELLED and request.steps_done == 1


def test_a_model_without_sentinels_is_refused(twin):
    bare = Tokenizer(twin.tokenizer.hf, SpecialTokens(mask=3, pad=2, eos=1))
    with pytest.raises(ValueError, match="fim_prefix"):
        fim_tokens(bare)
    reused = fim_tokens(bare, reuse={"fim_prefix": "<|fim_prefix|>", "fim_suffix": "<|fim_suffix|>",
                                     "fim_middle": "<|fim_middle|>"})
    assert reused.names["fim_middle"] == "<|fim_middle|>" and reused.end == 1
    with pytest.raises(ValueError, match="differ"):
        fim_tokens(bare, reuse={"fim_prefix": "<|mask|>", "fim_suffix": "<|fim_suffix|>",
                                "fim_middle": "<|fim_middle|>"})
    assert set(SMOLLM2_FIM_TOKENS) == {"fim_prefix", "fim_suffix", "fim_middle"}
    with pytest.raises(ValueError, match="completer"):
        build_engine(twin.config, "ar-suffix")


def test_the_server_setting_takes_every_completer():
    from lsp_server.settings import Settings

    for name in COMPLETERS:
        assert Settings().updated({"completer": name})[1] == []
    settings, problems = Settings().updated({"completer": "ar-fim"})
    assert problems == [] and settings.needs_reload(Settings())
    assert Settings().updated({"completer": "gpt"})[1]


def test_training_sequence_is_psm_with_eos_after_a_whole_line_middle(twin):
    tok, fim = twin.tokenizer, twin.fim
    text = "".join(f"line_{i} = {i} * 2\n" for i in range(12))
    rng, seen = random.Random(0), 0
    for _ in range(40):
        ids = ar_objective.fim_sequence(text, tok, fim, rng, seq_len=256)
        if ids is None:
            continue
        seen += 1
        assert ids[0] == fim.prefix and ids[-1] == fim.end and len(ids) <= 256
        s, m = ids.index(fim.suffix), ids.index(fim.middle)
        assert 0 < s < m < len(ids) - 2 and ids.count(fim.middle) == 1
        prefix, suffix, middle = ids[1:s], ids[s + 1 : m], ids[m + 1 : -1]
        # The pieces put back in reading order are a stretch of the text (healing only moves newlines).
        assert tok.decode(prefix) + tok.decode(middle) + tok.decode(suffix) in text
    assert seen > 20


def test_collate_shifts_targets_and_ignores_padding():
    batch = ar_objective.collate([[5, 6, 7, 8], [9, 10]], pad_id=2)
    assert batch["targets"].tolist() == [[6, 7, 8, -100], [10, -100, -100, -100]]
    assert batch["valid"].sum().item() == 6
    logits = torch.randn(2, 4, 16)
    expected = torch.nn.functional.cross_entropy(logits[[0, 0, 0, 1], [0, 1, 2, 0]], torch.tensor([6, 7, 8, 10]))
    torch.testing.assert_close(ar_objective.next_token_loss(logits, batch), expected)


def test_twin_training_smoke_writes_an_adapter_with_its_sentinels(random_model_dir, small_corpus, tmp_path):
    from engine.train import adapt_default

    work = tmp_path / "work"
    shutil.copytree(random_model_dir, work / "base")  # a micro base instead of the SmolLM2 GGUF
    (work / "base" / "SOURCE.json").write_text(json.dumps({"gguf_file": "test.gguf"}))
    corpus = tmp_path / "corpus"
    shutil.copytree(small_corpus, corpus, dirs_exist_ok=True)
    (corpus / "manifest.json").write_text(json.dumps({"files": [], "sha256": "test"}))
    out = tmp_path / "out"
    assert adapt_default.main(["--twin", "--smoke", "--out", str(out), "--work", str(work),
                               "--corpus", str(corpus), "--eval-limit", "0", "--lora-rank", "4"]) == 0
    record = json.loads((out / "training_record.json").read_text())
    assert record["steps"] == 2 and record["config"]["objective"] == "ar-fim"
    assert record["config"]["fim_rate"] == 0.5 and record["config"]["anneal_fraction"] == 0.0
    assert all(math.isfinite(loss) and loss > 0 for loss in record["loss_curve_every_50"])
    adapter = json.loads((out / "adapter" / "adapter_config.json").read_text())
    fim = fim_tokens(Tokenizer.from_file(random_model_dir / "tokenizer.json"))
    assert adapter["objective"] == "ar-fim" and adapter["row_ids"] == fim.sentinels
    assert adapter["token_roles"] == fim.names
    merged = json.loads((work / "twin" / "config.json").read_text())
    assert merged["fim_middle_token_id"] == fim.middle and merged["shift_logits"] is True


def test_adapter_token_roles_become_config_ids(random_model_dir):
    from engine.weights.default_model import token_role_ids

    tokenizer_json = (random_model_dir / "tokenizer.json").read_text()
    fields = token_role_ids({"fim_prefix": "<|fim_prefix|>", "fim_middle": "<|fim_middle|>"}, tokenizer_json)
    tok = Tokenizer.from_file(random_model_dir / "tokenizer.json")
    assert fields == {"fim_prefix_token_id": tok.token_to_id("<|fim_prefix|>"),
                      "fim_middle_token_id": tok.token_to_id("<|fim_middle|>")}
    with pytest.raises(ValueError, match="lacks"):
        token_role_ids({"fim_prefix": "<not a token>"}, tokenizer_json)


def test_the_server_bridge_runs_the_twin_unchanged(twin, monkeypatch):
    from lsp_server.bridge import EngineBridge, Job
    from lsp_server.span import SpanPlan

    monkeypatch.setattr(twin, "stop_ids", frozenset())
    bridge = EngineBridge()
    try:
        bridge.engine = twin
        plan = SpanPlan(PREFIX, SUFFIX, mode="multi", span_tokens=6, steps=16)
        cancelled = Job(plan, "file:///b.py")
        cancelled.stop.set()
        done, dropped = bridge._run([Job(plan, "file:///a.py"), cancelled])
        assert done is not None and done.steps_done == 6 and len(done.steps_ms) == 6
        assert " " + done.text == twin.tokenizer.decode(done.span_ids)  # the healed lead is written back
        assert bridge.count_tokens("x = 1") > 0
        assert dropped is None
        twin.forget("file:///a.py")
    finally:
        bridge.shutdown()
