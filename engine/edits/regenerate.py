"""Regenerate and rewrite: fill a whole selection again, from its context (and an instruction).

Regenerate offers alternatives from different span lengths and seeds; rewrite puts the instruction
as a comment line above the selection, the instruction format a base code model knows.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.denoise.params import DenoiseParams
from engine.denoise.request import SpanRequest
from engine.edits.repair import check_size


def regenerate(engine, prefix: str, selection: str, suffix: str, steps: int = 16, count: int = 3,
               should_stop: Callable[[], bool] | None = None) -> list[str]:
    """Fill the whole selection again: up to count distinct alternatives that differ from it.

    The variants: greedy with room to grow (pads end it early), greedy at exactly the selection's
    length, then samples at temperature 0.8 with seeds 1, 2, ...
    """
    num = len(engine.tokenizer.encode(selection))
    check_size(engine, num, extra=max(4, num // 4))
    roomy = num + max(4, num // 4)
    variants = [DenoiseParams(steps=steps, mode="multi", span_tokens=roomy),
                DenoiseParams(steps=steps, mode="multi", span_tokens=max(1, num), allow_pad=False)]
    variants += [DenoiseParams(steps=steps, mode="multi", span_tokens=roomy, temperature=0.8, seed=seed)
                 for seed in range(1, count)]
    found: list[str] = []
    for params in variants[: max(count, 1) + 1]:
        text = engine.generate(SpanRequest(prefix, suffix, params), should_stop=should_stop).text
        if text.strip() and text != selection and text not in found:
            found.append(text)
        if len(found) == count:
            break
    return found


def with_instruction(prefix: str, selection: str, instruction: str, comment: str) -> str:
    """prefix with `comment instruction` as lines of their own just above the selection's first line.

    The default model is not instruction-tuned; a comment above code is the instruction it knows.
    """
    line_start = prefix.rfind("\n") + 1
    current = prefix[line_start:]
    first_line = current + selection.split("\n", 1)[0]
    indent = first_line[: len(first_line) - len(first_line.lstrip(" \t"))]
    lines = [f"{indent}{comment} {line.strip()}\n" for line in instruction.strip().splitlines() if line.strip()]
    return prefix[:line_start] + "".join(lines) + current
