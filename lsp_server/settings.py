"""Settings: the one documented configuration of the language server.

Field names are the editor setting names in snake_case; `from_dict` also accepts camelCase (what
VS Code and most clients send) and an enclosing {"stipple": {...}} section. Values come from
`initializationOptions` at start-up and from `workspace/didChangeConfiguration` later.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from dataclasses import dataclass, field
from typing import Any

from engine.denoise.params import COMPLETERS, DTYPES, STRATEGIES  # torch-free

log = logging.getLogger("stipple.settings")

SUPPORTED_LANGUAGES = ("python", "javascript", "typescript", "typescriptreact",
                       "rust", "go")
LOG_LEVELS = ("debug", "info", "warning", "error")
BACKENDS = ("local", "remote")
# Changing one of these reloads the engine (or reconnects to the deployment).
RELOAD_FIELDS = ("model", "device", "dtype", "threads", "completer", "guide", "backend", "remote_url")


def _default_threads() -> int | None:
    value = os.environ.get("STIPPLE_THREADS")
    return int(value) if value and value.isdigit() and int(value) > 0 else None


BLOCK_LENGTH_DEFAULT: int | None = 1  # left to right: the block-causal default at this training budget

@dataclass
class Settings:
    model: str | None = None
    """Model directory, or a shipped model's name ("stipple-tiny"); None: the embedded default."""
    device: str = "auto"
    """"auto" (CUDA when available), "cpu", "cuda" or "cuda:N"."""
    dtype: str = "auto"
    """"auto" (bfloat16 on a GPU and on a CPU with native bf16, else float32), "float32", "bfloat16"
    or "float16"."""
    threads: int | None = field(default_factory=_default_threads)
    """torch CPU threads; None keeps torch's default. Defaults to $STIPPLE_THREADS when set."""
    steps: int = 32
    """Denoising steps K per completion, at most (fewer is faster and rougher)."""
    max_span_tokens: int = 64
    """Upper bound on the masked span (the longest completion, in tokens)."""
    max_prefix_tokens: int = 384
    """Token budget for the code before the cursor."""
    max_suffix_tokens: int = 128
    """Token budget for the code after the cursor."""
    languages: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(SUPPORTED_LANGUAGES, True))
    """Per-language enable, keyed by languageId (javascriptreact counts as javascript); others are off."""
    debounce_ms: int = 30
    """Wait this long before starting the model; a newer request for the same document wins."""
    log_level: str = "info"
    """Server log level on stderr (or the --log-file): debug, info, warning, error."""
    strategy: str = "confidence"
    """Which masked slots each denoising step commits: "confidence", "margin", "entropy" (a fixed
    schedule, exactly K steps) or "threshold" (every slot above `threshold`, at most K steps)."""
    threshold: float = 0.9
    """The "threshold" strategy's confidence bar tau."""
    guide: str | None = "auto"
    """Left-to-right decoding mixed with a next-token model's view (engine/denoise/guide.py): "auto" (the
    model's own; the default model's is its base), null or "none" for none (faster), or a model name/directory."""
    block_length: int | None = BLOCK_LENGTH_DEFAULT
    """Semi-autoregressive blocks of this many slots, decoded left to right (1: one token a step, how the
    block-causal default decodes best); null: the whole span is one block."""
    reuse_context: bool = True
    """Reuse the document's context keys/values from its previous request (only what changed is
    recomputed; an approximation, see the README)."""
    heal_cursor: bool = True
    """Token healing at the cursor: the model sees the prefix up to its last whole pre-token and writes
    that piece back first (a trailing space, half a word, an open bracket); false: the rule before it."""
    workspace_context: bool = True
    """Put definitions from other workspace files (and recent edits of other open files) that the code
    near the cursor names before the prefix (lsp_server/workspace/)."""
    workspace_budget_share: float = 0.25
    """The share of max_prefix_tokens that workspace context may take (0 turns it off)."""
    workspace_exclude: list[str] = field(default_factory=list)
    """Extra gitignore-style globs of workspace paths never indexed ("docs/**", "*_generated.py")."""
    completer: str = "diffusion"
    """"diffusion" (the masked-diffusion engine), "ar-fim" (an autoregressive fill-in-the-middle model
    such as smollm2-ar-fim, greedy with a KV cache) or "ar-prefix" (a next-token model from the prefix
    only, such as smollm2-base): the comparison baselines, served through the same engine interface."""
    backend: str = "local"
    """"local" (the engine in this process) or "remote" (a `stipple deploy` deployment at remote_url;
    $STIPPLE_API_TOKEN is sent as its bearer token)."""
    remote_url: str = "http://127.0.0.1:8000"
    """The deployment's base URL for backend "remote" (its /v1/completions and /v1/models)."""

    @property
    def workspace_budget(self) -> int:
        """Tokens workspace context may take before the prefix (0 when it is off)."""
        return int(self.workspace_budget_share * self.max_prefix_tokens) if self.workspace_context else 0

    def enabled(self, language_id: str) -> bool:
        return self.languages.get(language_id, False)

    def updated(self, data: Any) -> tuple[Settings, list[str]]:
        """A copy with the recognised values of data applied, and one problem line per bad value."""
        if not isinstance(data, dict):
            return self, [] if data is None else [f"settings must be an object, got {type(data).__name__}"]
        if isinstance(data.get("stipple"), dict):
            data = data["stipple"]
        values, problems = {}, []
        for key, value in data.items():
            name = re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower() if isinstance(key, str) else ""
            name = "model" if name == "model_dir" else name
            if name not in FIELD_TYPES:
                log.debug("ignoring unknown setting %r", key)
                continue
            problem = _check(name, value)
            if problem:
                problems.append(f"{key}: {problem}")
            else:
                values[name] = value
        if isinstance(values.get("languages"), dict):
            values["languages"] = {**self.languages, **values["languages"]}
        if "log_level" in values:
            values["log_level"] = values["log_level"].lower()
        return dataclasses.replace(self, **values), problems

    def needs_reload(self, other: Settings) -> bool:
        return any(getattr(self, name) != getattr(other, name) for name in RELOAD_FIELDS)


FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "model": (str, type(None)), "device": (str,), "dtype": (str,), "threads": (int, type(None)), "steps": (int,),
    "max_span_tokens": (int,), "max_prefix_tokens": (int,), "max_suffix_tokens": (int,),
    "languages": (dict,), "debounce_ms": (int,), "log_level": (str,), "completer": (str,),
    "strategy": (str,), "threshold": (float, int), "block_length": (int, type(None)), "reuse_context": (bool,),
    "guide": (str, type(None)),
    "heal_cursor": (bool,), "workspace_context": (bool,), "workspace_budget_share": (float, int),
    "workspace_exclude": (list,), "backend": (str,), "remote_url": (str,),
}
WORKSPACE_FIELDS = ("workspace_context", "workspace_exclude")  # changing one of these re-indexes
# Integer settings' ranges. The upper ends keep one setting from hanging the editor: a debounce of
# hours would hold every request that long, a span of millions of slots would exhaust memory.
LIMITS: dict[str, tuple[int, int]] = {"steps": (1, 4096), "max_span_tokens": (1, 4096),
                                      "max_prefix_tokens": (0, 1 << 17), "max_suffix_tokens": (0, 1 << 17),
                                      "debounce_ms": (0, 5000)}


def _check(name: str, value: Any) -> str | None:
    if not isinstance(value, FIELD_TYPES[name]) or (isinstance(value, bool) and bool not in FIELD_TYPES[name]):
        return f"expected {' or '.join(t.__name__ for t in FIELD_TYPES[name])}, got {value!r}"
    if name in LIMITS and not LIMITS[name][0] <= value <= LIMITS[name][1]:
        return "must be in [{}, {}]".format(*LIMITS[name])
    if name in ("threads", "block_length") and value is not None and value < 1:
        return "must be >= 1"
    if name == "strategy" and value not in STRATEGIES:
        return f"must be one of {', '.join(STRATEGIES)}"
    if name == "threshold" and not 0 <= value <= 1:
        return "must be in [0, 1]"
    if name == "dtype" and value not in DTYPES:
        return f"must be one of {', '.join(DTYPES)}"
    if name == "backend" and value not in BACKENDS:
        return f"must be one of {', '.join(BACKENDS)}"
    if name == "remote_url" and not re.match(r"https?://[^/\s]+", value):
        return "must be an http(s):// URL"
    if name == "completer" and value not in COMPLETERS:
        return f"must be one of {', '.join(COMPLETERS)}"
    if name == "log_level" and value.lower() not in LOG_LEVELS:
        return f"must be one of {', '.join(LOG_LEVELS)}"
    if name == "workspace_budget_share" and not 0 <= value <= 0.9:
        return "must be in [0, 0.9]"
    if name == "workspace_exclude" and not all(isinstance(v, str) for v in value):
        return "must be a list of glob strings"
    if name == "languages" and not all(isinstance(v, bool) for v in value.values()):
        return "values must be true or false"
    return None
