"""Figures from a run's samples: percentiles per config, mode and language; the per-stage breakdown;
counts of cancelled and stale requests; tokens per second; ratios against the first config.

Latency figures use the final request of each hole (the one whose answer the user sees) when the engine
ran for it (outcome offered or empty, or skipped after the model ended the line at the cursor); cursors
skipped before the model runs answer at once and are counted, not timed.
"""

from __future__ import annotations

import statistics
from collections import defaultdict

STAGES = ("context", "debounce", "workspace", "plan", "queue", "tokenize", "prefill", "denoise", "detokenize", "postprocess")


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = q * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def latency_row(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50_ms": round(percentile(values, 0.5), 2), "p95_ms": round(percentile(values, 0.95), 2),
            "p99_ms": round(percentile(values, 0.99), 2), "mean_ms": round(statistics.fmean(values), 2)}


def timed(samples: list[dict]) -> list[dict]:
    ran = lambda s: s["outcome"] in ("offered", "empty") or (s["outcome"] == "skipped" and s["steps_ms"])  # noqa: E731
    return [s for s in samples if s["final"] and ran(s)]


def summarize_config(samples: list[dict]) -> dict:
    measured = timed(samples)
    by_mode, by_language = defaultdict(list), defaultdict(list)
    for s in measured:
        by_mode[s["mode"]].append(s["latency_ms"])
        by_language[s["language"]].append(s["latency_ms"])
    stages = {}
    for mode in sorted(by_mode):
        rows = [s for s in measured if s["mode"] == mode]
        stages[mode] = {name: round(statistics.fmean(s["stages_ms"].get(name, 0.0) for s in rows), 3)
                        for name in STAGES}
        stages[mode]["transport"] = round(statistics.fmean(max(0.0, s["latency_ms"] - s["server_ms"]) for s in rows), 3)
    steps = [ms for s in measured for ms in s["steps_ms"][1:]]
    seconds = sum(s["latency_ms"] for s in measured) / 1000
    engine_s = sum(s["stages_ms"].get("prefill", 0) + s["stages_ms"].get("denoise", 0) for s in measured) / 1000
    tokens = sum(s["generated_tokens"] for s in measured)
    outcomes = defaultdict(int)
    for s in samples:
        outcomes[s["outcome"]] += 1
    return {
        "latency": {"all": latency_row([s["latency_ms"] for s in measured]),
                    **{mode: latency_row(v) for mode, v in sorted(by_mode.items())},
                    # Served from the suggestion on screen (the user typed its start): no model run.
                    "typed_through": latency_row([s["latency_ms"] for s in samples
                                                  if s["final"] and s["outcome"] == "typed_through"])},
        "by_language": {lang: latency_row(v) for lang, v in sorted(by_language.items())},
        "stages_ms": stages,
        "step_ms": latency_row(steps),
        "counts": {"requests": len(samples), "timed": len(measured),
                   "client_cancelled": sum(s["client_cancelled"] for s in samples),
                   "server_cancelled": outcomes["cancelled"] + outcomes["debounced"],
                   "stale": outcomes["stale"], "typed_through": outcomes["typed_through"], "skipped": outcomes["skipped"], "offered": outcomes["offered"],
                   "empty": outcomes["empty"], "errors": outcomes["error"] + outcomes["unknown"]},
        "tokens_per_s": round(tokens / seconds, 1) if seconds else 0.0,
        "engine_tokens_per_s": round(tokens / engine_s, 1) if engine_s else 0.0,
        "mean_span_tokens": round(statistics.fmean(s["span_tokens"] for s in measured), 1) if measured else 0,
        "mean_steps_done": round(statistics.fmean(s["steps_done"] for s in measured), 1) if measured else 0,
    }


def summarize(result: dict) -> dict:
    """Per-config figures, plus ratios of p50/p95 against the first config."""
    per = {c["name"]: summarize_config([s for s in result["samples"] if s["config"] == c["name"]])
           for c in result["configs"]}
    for config in result["configs"]:
        per[config["name"]]["peak_rss_mb"] = config["server"].get("peak_rss_mb")
    names = [c["name"] for c in result["configs"]]
    base = per[names[0]]["latency"] if names else {}
    ratios = {}
    for name in names[1:]:
        ratios[name] = {mode: {key: round(row[key] / base[mode][key], 3)
                               for key in ("p50_ms", "p95_ms", "mean_ms") if base.get(mode, {}).get(key)}
                        for mode, row in per[name]["latency"].items() if row.get("n") and base.get(mode, {}).get("n")}
    return {"configs": per, "ratios_vs_first": ratios, "baseline": names[0] if names else None}


def render(result: dict, summary: dict, console=None) -> None:
    """The rich tables: latency per config and mode (and language), stages, counts, ratios."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    if not console.is_terminal:  # a pipe or a file: don't squeeze the tables into 80 columns
        console.width = max(console.width, 150)
    machine = result["machine"]
    table = Table(title=f"stipple latency — {machine['cpu']} ({machine['server_threads']} thread(s)"
                        f"{', ' + machine['gpu'] if machine.get('gpu') else ''})")
    for column in ("config", "mode", "n", "p50 ms", "p95 ms", "p99 ms", "mean ms", "ratio p50", "tok/s", "RSS MB"):
        table.add_column(column, justify="left" if column in ("config", "mode") else "right")
    for name, figures in summary["configs"].items():
        for mode, row in list(figures["latency"].items()) + [(f"lang:{k}", v) for k, v in figures["by_language"].items()]:
            if not row.get("n"):
                continue
            ratio = summary["ratios_vs_first"].get(name, {}).get(mode, {}).get("p50_ms")
            table.add_row(name, mode, str(row["n"]), f"{row['p50_ms']:.1f}", f"{row['p95_ms']:.1f}",
                          f"{row['p99_ms']:.1f}", f"{row['mean_ms']:.1f}", f"{ratio:.2f}x" if ratio else "",
                          f"{figures['tokens_per_s']:.0f}" if mode == "all" else "",
                          f"{figures['peak_rss_mb'] or 0:.0f}" if mode == "all" else "")
    console.print(table)
    stages = Table(title="mean ms per stage (server spans; transport = client-measured minus server time)")
    names = [*STAGES, "transport"]
    stages.add_column("config")
    stages.add_column("mode")
    for name in names:
        stages.add_column(name, justify="right")
    for config, figures in summary["configs"].items():
        for mode, row in figures["stages_ms"].items():
            stages.add_row(config, mode, *(f"{row.get(n, 0):.2f}" for n in names))
    console.print(stages)
    counts = Table(title="requests")
    keys = list(next(iter(summary["configs"].values()))["counts"]) if summary["configs"] else []
    counts.add_column("config")
    for key in keys + ["step p50 ms"]:
        counts.add_column(key.replace("_", " "), justify="right")
    for config, figures in summary["configs"].items():
        counts.add_row(config, *(str(figures["counts"][k]) for k in keys),
                       f"{figures['step_ms'].get('p50_ms', float('nan')):.2f}")
    console.print(counts)
