"""`stipple profile`: one completion request under the torch profiler, per layer and per step.

The model is not edited for this: forward hooks placed from outside open a `record_function` range
around every attention and MLP block (`layer.N.attn`, `layer.N.mlp`) and the vocabulary projection
(`lm_head`), and around each whole forward pass (`step.N`). The profiler groups the ranges by label
(per-layer time); the outer hook reads what each pass computed (rows, keys attended, logit rows) and
its wall time, which benchmarks/roofline.py turns into achieved GFLOP/s and GB/s against the machine's
measured peaks. One unprofiled request runs first so that lazy set-up is not profiled.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile, record_function

from benchmarks.roofline import CostModel, Peak, StepShape, measure_peak, roofline_row, synchronize
from engine.denoise.engine import Engine
from engine.denoise.params import DenoiseParams
from engine.denoise.request import SpanRequest


class StepHooks:
    """Forward hooks that label the model's parts for the profiler and record each pass's shape and time."""

    def __init__(self, model: torch.nn.Module, device: torch.device) -> None:
        self.model, self.device = model, device
        self.steps: list[dict] = []
        self.labels: list[str] = []
        self._handles: list = []
        self._open: dict[int, list] = {}  # id(module) -> stack of open ranges (a module may nest in itself)

    def parts(self) -> list[tuple[str, torch.nn.Module]]:
        found = []
        for i, block in enumerate(self.model.model.layers):
            for child, label in (("self_attn", "attn"), ("mlp", "mlp")):
                module = getattr(block, child, None)
                found.append((f"layer.{i}.{label}", module if module is not None else block))
        found.append(("lm_head", self.model.lm_head))
        return found

    def __enter__(self) -> StepHooks:
        for label, module in self.parts():
            self.labels.append(label)
            self._handles.append(module.register_forward_pre_hook(self._enter(label)))
            self._handles.append(module.register_forward_hook(self._exit))
        self._handles.append(self.model.register_forward_pre_hook(self._step_start, with_kwargs=True))
        self._handles.append(self.model.register_forward_hook(self._step_end))
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _enter(self, label: str):
        def hook(module, args) -> None:
            scope = record_function(label)
            scope.__enter__()
            self._open.setdefault(id(module), []).append(scope)
        return hook

    def _exit(self, module, args, output) -> None:
        self._open[id(module)].pop().__exit__(None, None, None)

    def _step_start(self, module, args, kwargs) -> None:
        ids = args[0] if args else kwargs["input_ids"]
        cache = kwargs.get("cache")
        attend = getattr(cache, "attend_len", None)  # set by the runner for a cached (span-only) pass
        batch, rows = int(ids.shape[0]), int(ids.shape[1])  # (B, L)
        keys = int(attend) if attend is not None else int(kwargs.get("start", 0) or 0) + rows
        scope = record_function(f"step.{len(self.steps)}")
        synchronize(self.device)
        scope.__enter__()
        self.steps.append({"rows": rows, "keys": keys, "kind": "full" if rows >= keys else "cached",
                           "batch": batch, "_scope": scope, "_t": time.perf_counter()})

    def _step_end(self, module, args, output) -> None:
        synchronize(self.device)
        step = self.steps[-1]
        step["ms"] = (time.perf_counter() - step.pop("_t")) * 1000
        step.pop("_scope").__exit__(None, None, None)
        step["logit_rows"] = int(output.shape[1])  # (B, kept rows, V)


def _event_ms(event, cuda: bool) -> float:
    """Device time of a labelled range on a GPU (kernels run async), its CPU time otherwise."""
    total = getattr(event, "device_time_total", 0.0) if cuda else 0.0
    return (total or event.cpu_time_total) / 1000


def layer_rows(prof, labels: list[str], forward_ms: float, cuda: bool) -> list[dict]:
    grouped = {e.key: e for e in prof.key_averages() if e.key in labels}
    rows = []
    for label in labels:
        event = grouped.get(label)
        total = _event_ms(event, cuda) if event is not None else 0.0
        calls = event.count if event is not None else 0
        rows.append({"name": label, "calls": calls, "total_ms": round(total, 3),
                     "mean_ms": round(total / calls, 4) if calls else 0.0,
                     "share": round(total / forward_ms, 4) if forward_ms else 0.0})
    return rows


def run_profile(engine: Engine, prefix: str, suffix: str, params: DenoiseParams,
                trace: Path | None = None, peak: Peak | None = None, reuse_context: bool = False) -> dict:
    """Profile one request; the report (JSON-able): model, request, peak, layers, steps, totals.

    reuse_context: the profiled request follows the warm-up in the same document, as the next
    keystroke's request would, so its first pass may reuse the warm-up's context keys/values.
    """
    device = engine.runner.device
    model = engine.runner.model
    cache_key = "stipple-profile" if reuse_context else None
    engine.generate(SpanRequest(prefix, suffix, params, cache_key=cache_key))  # warm-up, unprofiled
    peak = peak or measure_peak(device, next(model.parameters()).dtype)
    cuda = device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    request = SpanRequest(prefix, suffix, params, cache_key=cache_key)
    with StepHooks(model, device) as hooks, profile(activities=activities) as prof:
        engine.generate(request)
    if trace is not None:
        Path(trace).parent.mkdir(parents=True, exist_ok=True)
        prof.export_chrome_trace(str(trace))
    costs = CostModel(model)
    steps = []
    for number, step in enumerate(hooks.steps):
        shape = StepShape(step["rows"], step["keys"], step["logit_rows"], step["kind"], step["batch"])
        cost = costs.step(shape)
        engine_ms = request.steps_ms[number] if number < len(request.steps_ms) else None
        steps.append({"step": number, **asdict(shape), "ms": round(step["ms"], 3),
                      "step_ms": round(engine_ms, 3) if engine_ms is not None else None,
                      **roofline_row(cost, step["ms"] / 1000, peak)})
    forward_ms = sum(s["ms"] for s in steps)
    warning = None
    if len(steps) != request.steps_done:  # e.g. a step replayed from a captured CUDA graph skips the hooks
        warning = (f"{request.steps_done} steps ran but {len(steps)} went through the model's eager forward; "
                   "only those are profiled")
    layers = layer_rows(prof, hooks.labels, forward_ms, cuda)
    # The engine times each step (forward pass + sampler); older engines only a "denoise" stage.
    denoise_ms = sum(request.steps_ms) if request.steps_ms else request.timings_ms.get("denoise", 0.0)
    flops, moved = sum(s["gflop"] for s in steps), sum(s["mb"] for s in steps)
    args = model.args
    return {
        "model": {"dir": str(engine.config.model_dir), "parameters": args.num_parameters,
                  "layers": args.num_hidden_layers, "hidden": args.hidden_size, "vocab": args.vocab_size,
                  "dtype": engine.config.dtype, "device": str(device), "threads": torch.get_num_threads()},
        "request": {"mode": params.mode, "steps": params.steps, "steps_done": request.steps_done,
                    "prefix_tokens": len(request.prefix_ids), "suffix_tokens": len(request.suffix_ids),
                    "span_tokens": min(params.span_tokens, engine.config.max_span_tokens),
                    "context_cache": params.context_cache, "refresh_every": params.refresh_every,
                    "reused_tokens": getattr(request, "reused_tokens", 0),
                    "completion": request.text},
        "peak": peak.as_dict(),
        "layers": layers,
        "steps": steps,
        "totals": {"forward_ms": round(forward_ms, 3), "denoise_ms": round(denoise_ms, 3),
                   "outside_forward_ms": round(max(0.0, denoise_ms - forward_ms), 3),
                   "labelled_ms": round(sum(r["total_ms"] for r in layers), 3),
                   "gflop": round(flops, 6), "mb": round(moved, 4),
                   "gflops": round(flops / (forward_ms / 1000), 3) if forward_ms else 0.0,
                   "gbps": round(moved / 1000 / (forward_ms / 1000), 3) if forward_ms else 0.0,
                   "stages_ms": {k: round(v, 3) for k, v in request.timings_ms.items()}},
        "trace": str(trace) if trace else None,
        "warning": warning,
    }


def render(report: dict, console=None) -> None:
    """Rich tables: the request, per-layer time, the roofline per step."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console(width=None if Console().is_terminal else 110)
    m, r, p, t = report["model"], report["request"], report["peak"], report["totals"]
    console.print(f"[bold]{Path(m['dir']).name}[/] {m['parameters'] / 1e6:.1f}M params, {m['layers']} layers, "
                  f"{m['dtype']} on {m['device']} ({m['threads']} threads) | {r['mode']}-line, "
                  f"{r['steps_done']}/{r['steps']} steps, {r['prefix_tokens']}+{r['span_tokens']}+"
                  f"{r['suffix_tokens']} tokens")
    console.print(f"peak measured: {p['gflops']:.1f} GFLOP/s (matmul {p['matmul_n']}², {p['dtype']}), "
                  f"{p['gbps']:.1f} GB/s (copy {p['copy_mb']:.0f} MB); ridge {p['balance_flop_per_byte']} FLOP/B")
    layers = Table(title="time per layer (torch profiler, all steps)")
    for column in ("part", "calls", "total ms", "ms/call", "% of forward"):
        layers.add_column(column, justify="left" if column == "part" else "right")
    for row in report["layers"]:
        layers.add_row(row["name"], str(row["calls"]), f"{row['total_ms']:.2f}", f"{row['mean_ms']:.3f}",
                       f"{100 * row['share']:.1f}")
    rest = t["forward_ms"] - t["labelled_ms"]
    layers.add_row("(embed, norms, hooks)", "", f"{rest:.2f}", "", f"{100 * rest / t['forward_ms']:.1f}"
                   if t["forward_ms"] else "")
    console.print(layers)
    steps = Table(title="roofline per step (analytic FLOPs and bytes vs measured time)")
    for column in ("step", "kind", "rows/keys", "GFLOP", "MB", "FLOP/B", "ms", "GFLOP/s", "GB/s",
                   "%pk FLOP", "%pk BW", "%roof"):
        steps.add_column(column, justify="right")
    for s in report["steps"]:
        steps.add_row(str(s["step"]), s["kind"], f"{s['rows']}/{s['keys']}", f"{s['gflop']:.3f}", f"{s['mb']:.1f}",
                      f"{s['intensity']:.1f}{'m' if s['bound'] == 'memory' else 'c'}", f"{s['ms']:.2f}",
                      f"{s['gflops']:.1f}", f"{s['gbps']:.1f}", f"{100 * s['of_peak_flops']:.1f}",
                      f"{100 * s['of_peak_bw']:.1f}", f"{100 * s['of_roofline']:.0f}")
    console.print(steps)
    console.print("FLOP/B: arithmetic intensity, m/c: below/above the ridge (memory/compute-bound); %roof: "
                  "achieved GFLOP/s over min(peak FLOP/s, intensity x peak GB/s)")
    console.print(f"forward {t['forward_ms']:.1f} ms of {t['denoise_ms']:.1f} ms in steps (sampler and glue "
                  f"{t['outside_forward_ms']:.1f} ms); {t['gflops']:.2f} GFLOP/s, {t['gbps']:.2f} GB/s overall")
    console.print(f"completion: {r['completion']!r}")
    if report.get("warning"):
        console.print(f"[yellow]warning:[/] {report['warning']}")
    if report["trace"]:
        console.print(f"chrome trace: {report['trace']}")
