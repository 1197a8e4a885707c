"""The language server's subcommands: `serve` (cli_serve.py) and `complete`.

`python -m lsp_server` runs them with the engine's (engine/cli.py: infill, models, train, deploy); the
whole `stipple` command adds the benchmarks' (benchmarks/cli.py), which this package never imports.
stdout carries results only (the completion); diagnostics go to stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from engine import cli as engine_cli
from engine.cli import UsageError, add_engine_options, engine_from_args, parse_cursor, split_at_cursor


def cmd_complete(args: argparse.Namespace) -> int:
    """The server's steps for one cursor (lsp_server.suggest): what an editor would be offered there, or
    an empty line, with the reason for a skip on stderr."""
    from lsp_server.documents import UTF32, Document
    from lsp_server.languages import language_for
    from lsp_server.settings import BLOCK_LENGTH_DEFAULT, Settings
    from lsp_server.suggest import complete_at

    path, line, col = parse_cursor(args.cursor)
    if args.workspace is not None and not args.workspace.is_dir():
        raise UsageError(f"--workspace {args.workspace}: not a directory")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc
    if b"\0" in data[:8192]:
        raise UsageError(f"{path} looks binary; nothing to complete")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    prefix, _ = split_at_cursor(text, line, col)
    engine = engine_from_args(args)
    block_length = BLOCK_LENGTH_DEFAULT if args.block_length is None else (args.block_length or None)
    settings = Settings(steps=args.steps, strategy=args.strategy, threshold=args.threshold,
                        block_length=block_length, completer=args.completer, heal_cursor=not args.no_heal)
    doc = Document(path.resolve().as_uri(), "", 0, text, UTF32, language_for("", str(path)))
    preamble = workspace_block(args.workspace, doc, len(prefix), settings) if args.workspace else ""
    started = time.perf_counter()
    verdict = complete_at(engine, doc, len(prefix), settings, args.mode, args.span_tokens, preamble)
    latency = (time.perf_counter() - started) * 1000
    shown = verdict.text or ""
    sys.stdout.write(shown if shown.endswith("\n") else shown + "\n")
    if verdict.outcome != "offered":
        print(f"stipple complete: {verdict.outcome}{': ' + verdict.reason if verdict.reason else ''}",
              file=sys.stderr)
    if args.show_latency:
        print(f"[{verdict.outcome}, {latency:.1f} ms, model {engine.config.model_dir.name}]", file=sys.stderr)
    return 0


def workspace_block(root: Path, doc, offset: int, settings) -> str:
    """The server's workspace context for one cursor: root indexed once (lsp_server/workspace/), then the
    definitions the code near the cursor names, within the server's budget."""
    from lsp_server.workspace.service import WorkspaceService

    service = WorkspaceService()
    service.configure([str(root.resolve())], settings.workspace_exclude)
    try:
        service.scan()
    finally:
        service.stop()
    return service.context_for(doc, offset, settings.workspace_budget, {doc.uri: doc}).block


def add_parser(sub: argparse._SubParsersAction) -> None:
    from lsp_server import cli_serve

    cli_serve.add_parser(sub)
    p = sub.add_parser("complete", help="print the completion at FILE:LINE:COL (1-based)")
    p.add_argument("cursor")
    p.add_argument("--mode", default=None, choices=["single", "multi"],
                   help="override the server's choice for this cursor")
    p.add_argument("--no-heal", action="store_true", help="no token healing at the cursor (the rule before it)")
    p.add_argument("--workspace", type=Path, default=None, metavar="DIR",
                   help="put definitions from this folder's other files before the prefix, as the server does")
    p.add_argument("--show-latency", action="store_true")
    add_engine_options(p)
    p.set_defaults(func=cmd_complete)


def build_parser() -> argparse.ArgumentParser:
    return engine_cli.build_parser(engine_cli.add_parser, add_parser)


def main(argv: list[str] | None = None) -> int:
    """`python -m lsp_server`: the engine's subcommands and the server's."""
    return engine_cli.run(build_parser(), argv)
