"""Repair: score every token of a selection and re-decide only the ones the model finds unlikely.

A masked diffusion model predicts a masked position from context on both sides, so it can re-decide
any subset of a selection in place.

Scoring: engine/edits/token_scores.py, p(x_i | rest) with x_i masked (exact, or in RepairParams.groups rows).

Repair. A token is suspect when p(x_i | rest) < floor and the model's best alternative is at least
`ratio` times as likely. A suspect token inside an identifier brings the whole identifier (a typo
splits a name into odd pieces); suspects within `merge_gap` tokens form one run; a run never crosses
a line break, and at most `max_runs` runs (the least likely) are re-decided. Each run is masked again
at a few lengths around its own (so a fill may be shorter, or insert a deleted token) and denoised
with everything else as context, never breaking its line; each fill is scored in place, and the best is
kept only if it beats the run itself by `margin`. The result is the minimal edit per run.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from engine.denoise.engine import Cancelled
from engine.denoise.sampler import allowed_logits
from engine.edits.token_scores import Window, make_window, token_probs

WORD = re.compile(r"\w+")


class SelectionTooLarge(ValueError):
    """The selection does not fit the model's span or window."""


@dataclass
class RepairParams:
    floor: float = 0.01
    """A token is suspect when the model gives it less than this probability..."""
    ratio: float = 20.0
    """...and its best alternative is at least this many times as likely."""
    groups: int | None = None
    """Scoring rows: token i is masked in row i % groups. None: one row per token (exact)."""
    slack: int = 1
    """Fills of the run's token count plus and minus this many slots are tried (an insertion point: 1 to slack)."""
    merge_gap: int = 1
    """Suspect tokens with at most this many tokens between them are re-masked as one run."""
    max_runs: int = 2
    """Re-decide at most this many runs, the least likely first: a repair is for a slip or two, and a
    model that doubts half the selection should not rewrite half of it."""
    verify: bool = True
    """Score each fill in place and keep it only if it beats the run it replaces (by `margin`)."""
    margin: float = 0.5
    """Nats of mean log-probability a fill must gain over the run it replaces."""
    max_context_tokens: tuple[int, int] = (192, 96)
    """Context kept before and after the selection, in tokens (cut at line starts)."""

    def __post_init__(self) -> None:
        if not 0.0 < self.floor <= 1.0:
            raise ValueError(f"floor must be in (0, 1], got {self.floor}")
        if self.ratio < 1.0:
            raise ValueError(f"ratio must be >= 1, got {self.ratio}")
        if self.groups is not None and self.groups < 1:
            raise ValueError(f"groups must be >= 1 or None, got {self.groups}")
        if self.slack < 0 or self.merge_gap < 0 or self.max_runs < 0:
            raise ValueError("slack, merge_gap and max_runs must be >= 0")


@dataclass
class Edit:
    """Replace selection[start:end] with text (offsets in the original selection)."""

    start: int
    end: int
    text: str


@dataclass
class RepairResult:
    text: str
    """The selection after repair."""
    edits: list[Edit] = field(default_factory=list)
    """The minimal edits, left to right, in the original selection's offsets."""
    probs: list[float] = field(default_factory=list)
    """p(token | rest) of each scored token."""
    num_suspect: int = 0
    """Tokens the scores flagged (before widening to identifiers)."""


def check_size(engine, num_tokens: int, extra: int = 0) -> None:
    """Raise SelectionTooLarge when num_tokens (+ extra slots) cannot be one span of this model."""
    limit = min(engine.config.max_span_tokens, engine.max_positions // 2) - extra
    if num_tokens > limit:
        raise SelectionTooLarge(f"the selection is {num_tokens} tokens; this model rewrites at most {limit} "
                                f"at once (window {engine.max_positions} tokens). Select less code.")


def suspect_runs(window: Window, selected: list[int], suspect: list[bool], merge_gap: int
                 ) -> list[tuple[int, int, int]]:
    """Suspect tokens -> runs to re-mask, as (start, end, tokens) in window.text, left to right.

    A suspect inside an identifier brings the whole identifier; suspects within merge_gap tokens
    join. A run never crosses a line break: a token holding one ends the run, and a suspect line
    break alone becomes an insertion point just before it (where a deleted token most often was).
    """
    chosen: set[int] = set()
    for j, flag in zip(selected, suspect):
        if not flag:
            continue
        a, b = window.offsets[j]
        words = [m.span() for m in WORD.finditer(window.text, max(0, a - 64), b + 64) if m.start() < b and m.end() > a]
        lo, hi = (min(a, *(w[0] for w in words)), max(b, *(w[1] for w in words))) if words else (a, b)
        chosen.update(k for k in selected if window.offsets[k][0] < hi and window.offsets[k][1] > lo)
    runs: list[list[int]] = []
    for j in sorted(chosen):
        if runs and j - runs[-1][-1] <= merge_gap + 1:
            runs[-1].extend(range(runs[-1][-1] + 1, j + 1))
        else:
            runs.append([j])
    pieces: list[tuple[int, int, int]] = []
    for run in runs:
        piece: list[int] = []
        for j in run + [-1]:  # -1 flushes the last piece
            a, b = window.offsets[j] if j >= 0 else (0, 0)
            if j >= 0 and "\n" not in window.text[a:b]:
                piece.append(j)
                continue
            if piece:
                pieces.append(content_range(window.text, window.offsets[piece[0]][0], window.offsets[piece[-1]][1])
                              + (len(piece),))
            elif j >= 0 and j in chosen:
                pieces.append((a, a, 0))
            piece = []
    return [p for k, p in enumerate(pieces) if k == 0 or p[:2] != pieces[k - 1][:2]]


def run_score(window: Window, selected: list[int], p_orig: torch.Tensor, run: tuple[int, int, int]) -> float:
    """The lowest p(token | rest) among the tokens a run covers (or starts at, for an insertion)."""
    start, end, _ = run
    covered = [k for k, j in enumerate(selected) if window.offsets[j][0] < max(end, start + 1)
               and window.offsets[j][1] > start]
    return float(p_orig[covered].min()) if covered else 1.0


def content_range(text: str, a: int, b: int) -> tuple[int, int]:
    """text[a:b] without its leading and trailing whitespace: a fill must not rewrite line breaks and
    indentation (the model fills them poorly mid-line). An all-whitespace run becomes an insertion
    point at a (a deleted token most often sat just before a line break)."""
    stripped = text[a:b].strip()
    if not stripped:
        return a, a
    start = a + text[a:b].index(stripped)
    return start, start + len(stripped)


def minimal_edit(old: str, new: str, offset: int) -> Edit | None:
    """The one replacement that turns old into new, with the common head and tail left alone."""
    if old == new:
        return None
    head = 0
    while head < min(len(old), len(new)) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < min(len(old), len(new)) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    return Edit(offset + head, offset + len(old) - tail, new[head : len(new) - tail])


def repair(engine, prefix: str, selection: str, suffix: str, params: RepairParams | None = None,
           frozen: list[tuple[int, int]] = (), should_stop: Callable[[], bool] | None = None) -> RepairResult:
    """Re-decide only the tokens of selection the model finds unlikely; see the module docstring.

    frozen: character ranges of selection never re-decided (comments and strings: prose, where a
    code model is unsure of every other word); they are still context.
    """
    params = params or RepairParams()
    window = make_window(engine, prefix, selection, suffix, params.max_context_tokens)
    selected = window.selected
    check_size(engine, len(selected))
    if not selected:
        return RepairResult(selection)
    p_orig, _, p_best = token_probs(engine, window.ids, selected, params.groups, should_stop)
    suspect = ((p_orig < params.floor) & (p_best >= params.ratio * p_orig)).tolist()
    shift = window.start
    suspect = [flag and not any(window.offsets[j][0] < shift + e and window.offsets[j][1] > shift + s for s, e in frozen)
               for j, flag in zip(selected, suspect)]
    runs = suspect_runs(window, selected, suspect, params.merge_gap)
    runs = sorted(sorted(runs, key=lambda run: run_score(window, selected, p_orig, run))[: params.max_runs])
    text, delta, edits = window.text, 0, []
    for start, end, count in runs:
        a, b = start + delta, end + delta
        fill = best_fill(engine, text, a, b, count, params, should_stop)
        edit = minimal_edit(text[a:b], fill, a - delta) if fill is not None else None
        if edit is not None:
            text, delta = text[:a] + fill + text[b:], delta + len(fill) - (b - a)
            edits.append(edit)
    inside = [Edit(e.start - window.start, e.end - window.start, e.text) for e in edits
              if e.start >= window.start and e.end <= window.end]
    return RepairResult(apply_edits(selection, inside), inside, p_orig.tolist(), sum(suspect))


def best_fill(engine, text: str, a: int, b: int, count: int, params: RepairParams,
              should_stop: Callable[[], bool] | None) -> str | None:
    """The fill of text[a:b] to keep, or None. Lengths count - slack .. count + slack slots are tried
    (no pads: the model rarely ends a mid-line span with pad, it repeats context instead); each fill
    is scored in place (fill_score); the best is kept only if it beats the run itself by
    params.margin. Empty fills (deleting the run) are never proposed."""
    fills: list[str] = []
    for length in range(max(1, count - params.slack), count + params.slack + 1):
        fill = fill_in_line(engine, text[:a], text[b:], length, should_stop).split("\n", 1)[0].rstrip()
        if a == 0 or text[a - 1].isspace():  # the run starts after a space or indentation: keep just one
            fill = fill.lstrip()
        if fill.strip() and fill != text[a:b] and fill not in fills:
            fills.append(fill)
    if not fills or not params.verify:
        return fills[0] if fills else None
    scored = [(fill_score(engine, text, a, b, fill, params.groups, should_stop), fill) for fill in fills]
    score, fill = max(scored)
    return fill if score > fill_score(engine, text, a, b, text[a:b], params.groups, should_stop) + params.margin \
        else None


_UNFIT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def unfit_in_line(engine) -> torch.Tensor:
    """(N,) ids a mid-line fill never uses: special tokens, and tokens that break the line or are only
    whitespace (a run is trimmed of its whitespace, so a blank fill would delete it). Once per engine."""
    if engine not in _UNFIT:
        texts = engine.tokenizer.token_texts(engine.runner.loaded.args.vocab_size)
        unfit = [i for i, text in enumerate(texts) if "\n" in text or "\r" in text or not text.strip()]
        _UNFIT[engine] = torch.tensor(unfit, dtype=torch.long, device=engine.runner.device)
    return _UNFIT[engine]


@torch.inference_mode()
def fill_in_line(engine, prefix: str, suffix: str, length: int, should_stop: Callable[[], bool] | None) -> str:
    """Exactly `length` tokens between prefix and suffix, none of them unfit_in_line (a run inside one
    line stays on it), committed one per step, most confident first (LLaDA's
    low-confidence remasking, Nie et al. 2025, Alg. 1, with k = 1)."""
    runner = engine.runner
    sequence, start = engine.sequence(engine.tokenizer.encode(prefix), length, engine.tokenizer.encode(suffix))
    ids = runner.tensor(sequence)  # (1, T)
    banned = unfit_in_line(engine)
    masked = torch.ones(length, dtype=torch.bool, device=ids.device)  # (L,)
    cache = runner.new_cache(ids.shape[1])  # context computed at the first step only (Fast-dLLM)
    for step in range(length):
        if should_stop is not None and should_stop():
            raise Cancelled("fill")
        logits = allowed_logits(runner.span_logits(ids, start, length, cache, step == 0), banned)[0]  # (L, V)
        conf, best = torch.softmax(logits, dim=-1).max(-1)  # (L,)
        slot = int(conf.masked_fill(~masked, -1.0).argmax())
        ids[0, start + slot], masked[slot] = best[slot], False
    return engine.tokenizer.decode(ids[0, start : start + length].tolist())


def fill_score(engine, text: str, a: int, b: int, fill: str, groups: int | None,
               should_stop: Callable[[], bool] | None) -> float:
    """Mean log p(token | rest) over the fill's tokens and the token after it, in text with text[a:b]
    replaced by fill: comparable across fills of different lengths, and it sees whether the fill
    joins what follows (the token after an inserted one is the one that was unlikely)."""
    edited = text[:a] + fill + text[b:]
    encoding = engine.tokenizer.hf.encode(edited, add_special_tokens=False)
    end = a + len(fill)
    inside = [j for j, (s, e) in enumerate(encoding.offsets) if s < end and e > a]
    after = next((j for j, (s, _) in enumerate(encoding.offsets) if s >= end and j not in inside), None)
    positions = inside + ([after] if after is not None else [])
    if not positions:
        return float("-inf")
    p, _, _ = token_probs(engine, list(encoding.ids), positions, groups, should_stop)
    return float(p.clamp_min(1e-12).log().mean())


def apply_edits(text: str, edits: list[Edit]) -> str:
    """Apply non-overlapping edits given in text's offsets."""
    for edit in sorted(edits, key=lambda e: e.start, reverse=True):
        text = text[: edit.start] + edit.text + text[edit.end :]
    return text
