"""The whole `stipple` command (the console entry point), and the benchmarks' own subcommands.

    stipple eval humaneval-infill|repair ...   (cli_eval.py)
    stipple bench latency|record|replay ...     (cli_bench.py)
    stipple profile ...                         (cli_bench.py)

Each package gives an add_parser for its own subcommands; `main` gathers them downwards: the engine's
(engine/cli.py: infill, models, train, deploy), the server's (lsp_server/cli.py: serve, complete) and
these. The entry point lives here because benchmarks/ is the top layer, the one package that may
import the others; neither lsp_server/ nor engine/ imports benchmarks/ (tests/test_import_layers.py).
"""

from __future__ import annotations

import argparse
import sys

from benchmarks import cli_bench, cli_eval
from engine import cli as engine_cli
from lsp_server import cli as server_cli


def add_parser(sub: argparse._SubParsersAction) -> None:
    cli_eval.add_parser(sub)
    cli_bench.add_parser(sub)
    cli_bench.add_profile_parser(sub)


def build_parser() -> argparse.ArgumentParser:
    return engine_cli.build_parser(engine_cli.add_parser, server_cli.add_parser, add_parser)


def main(argv: list[str] | None = None) -> int:
    return engine_cli.run(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
