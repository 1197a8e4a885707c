"""PNG plots of a run: latency CDF per config, stacked per-stage bars, latency against span tokens and
against denoising steps. matplotlib with the Agg backend (no display needed)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.latency.report import STAGES, timed


def write_all(result: dict, summary: dict, out: Path, prefix: str = "latency") -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    names = [c["name"] for c in result["configs"]]
    measured = timed(result["samples"])
    paths = []

    fig, ax = plt.subplots(figsize=(6, 4))
    for name in names:
        for mode, style in (("single", "-"), ("multi", "--")):
            values = sorted(s["latency_ms"] for s in measured if s["config"] == name and s["mode"] == mode)
            if values:
                ax.step(values, [(i + 1) / len(values) for i in range(len(values))], style, where="post",
                        label=f"{name} {mode}-line (n={len(values)})")
    ax.set(xlabel="end-to-end latency (ms)", ylabel="fraction of requests", title="Latency CDF", ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    paths.append(save(fig, out / f"{prefix}-cdf.png"))

    fig, ax = plt.subplots(figsize=(6, 4))
    labels, bottoms = [], []
    rows = [(name, mode, row) for name in names for mode, row in summary["configs"][name]["stages_ms"].items()]
    stage_names = [*STAGES, "transport"]
    colors = plt.get_cmap("tab10").colors
    for index, (name, mode, row) in enumerate(rows):
        labels.append(f"{name}\n{mode}")
        bottom = 0.0
        for j, stage in enumerate(stage_names):
            ax.bar(index, row.get(stage, 0.0), bottom=bottom, color=colors[j % len(colors)],
                   label=stage if index == 0 else None)
            bottom += row.get(stage, 0.0)
        bottoms.append(bottom)
    ax.set_xticks(range(len(labels)), labels, fontsize=7)
    ax.set(ylabel="mean ms", title="Where the time goes (server spans)")
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1, 1))
    paths.append(save(fig, out / f"{prefix}-stages.png"))

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    for name in names:
        rows = [s for s in measured if s["config"] == name]
        left.scatter([s["span_tokens"] for s in rows], [s["latency_ms"] for s in rows], s=12, alpha=0.7, label=name)
        right.scatter([s["steps_done"] for s in rows], [s["latency_ms"] for s in rows], s=12, alpha=0.7, label=name)
    left.set(xlabel="span tokens (mask slots)", ylabel="end-to-end latency (ms)", title="vs span length")
    right.set(xlabel="denoising steps run", title="vs steps")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    right.legend(fontsize=7)
    paths.append(save(fig, out / f"{prefix}-scatter.png"))
    return paths


def save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
