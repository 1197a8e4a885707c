"""FIM sentinels and the prefix-suffix-middle (PSM) layout of the autoregressive twin.

Bavarian et al. 2022 ("Efficient Training of Language Models to Fill in the Middle", sec. 3) move
the middle to the end and mark the pieces with sentinels, so that a left-to-right model fills a gap:

    <fim_prefix> prefix <fim_suffix> suffix <fim_middle> middle <eos>

Training (engine/train/ar_objective.py) and decoding (engine/ar/twin.py) both build the sequence
with `psm_ids`, so the two can never disagree on the layout.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.weights.tokenizer import Tokenizer

ROLES = ("fim_prefix", "fim_suffix", "fim_middle")

# SmolLM2's vocabulary has no FIM sentinels. As for mask and pad (engine/convert/gguf_llama.py),
# three StarCoder-heritage control tokens that the base never trained (their embedding rows agree
# to within quantization error) take the roles; the adapter trains their embedding rows and
# records these names, and the merged model's config.json carries the ids.
SMOLLM2_FIM_TOKENS: dict[str, str] = {
    "fim_prefix": "<jupyter_start>",
    "fim_suffix": "<jupyter_text>",
    "fim_middle": "<jupyter_code>",
}


@dataclass(frozen=True)
class FimTokens:
    prefix: int
    suffix: int
    middle: int
    end: int  # closes the middle: the tokenizer's eos, as between documents in the plain stream
    names: dict[str, str]  # role -> token text, recorded in the adapter so the merge can find them

    @property
    def sentinels(self) -> list[int]:
        """The rows a LoRA adapter must train: the sentinels are new to a base without FIM."""
        return [self.prefix, self.suffix, self.middle]

    def config_fields(self) -> dict[str, int]:
        """config.json fields (`fim_prefix_token_id`, ...) that make the tokenizer resolve them."""
        return {"fim_prefix_token_id": self.prefix, "fim_suffix_token_id": self.suffix,
                "fim_middle_token_id": self.middle}


def fim_tokens(tokenizer: Tokenizer, reuse: dict[str, str] | None = None) -> FimTokens:
    """The sentinels from the tokenizer's special tokens, else (training only) the tokens in reuse.

    Raises ValueError when a role has no token, or when two roles (or a role and mask/pad/eos) share one.
    """
    special = tokenizer.special
    ids: dict[str, int | None] = {role: getattr(special, role) for role in ROLES}
    for role, name in (reuse or {}).items():
        if ids.get(role) is None:
            ids[role] = tokenizer.token_to_id(name)
    missing = [role for role in ROLES if ids[role] is None]
    if missing:
        raise ValueError(f"the tokenizer has no {', '.join(missing)} token: not a fill-in-the-middle "
                         "model (set fim_prefix_token_id/fim_suffix_token_id/fim_middle_token_id)")
    if special.eos is None:
        raise ValueError("fill-in-the-middle needs an eos token to end the middle")
    taken = [ids[role] for role in ROLES] + [special.eos, special.mask, special.pad]
    if len(set(taken)) != len(taken):
        raise ValueError(f"FIM sentinels must differ from each other and from eos/mask/pad, got {ids}")
    names = {role: tokenizer.hf.id_to_token(ids[role]) for role in ROLES}
    return FimTokens(ids["fim_prefix"], ids["fim_suffix"], ids["fim_middle"], special.eos, names)


def psm_ids(fim: FimTokens, prefix: list[int], suffix: list[int]) -> list[int]:
    """The prompt in PSM order, up to and including <fim_middle>; the middle follows it."""
    return [fim.prefix, *prefix, fim.suffix, *suffix, fim.middle]
