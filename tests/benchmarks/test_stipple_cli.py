"""The whole `stipple` command (benchmarks/cli.py): every package's subcommands, gathered downwards."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

ENGINE = {"infill", "models", "train", "deploy"}
SERVER = {"serve", "complete"}
BENCHMARKS = {"eval", "bench", "profile"}


def subcommands(parser: argparse.ArgumentParser) -> set[str]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


def test_each_command_line_holds_its_package_and_the_packages_below():
    from benchmarks.cli import build_parser as stipple
    from engine.cli import add_parser, build_parser
    from lsp_server.cli import build_parser as server

    assert subcommands(build_parser(add_parser)) == ENGINE
    assert subcommands(server()) == ENGINE | SERVER
    assert subcommands(stipple()) == ENGINE | SERVER | BENCHMARKS


@pytest.mark.parametrize("module", ["benchmarks.cli", "lsp_server", "engine"])
def test_python_m_runs_each_command_line(module):
    done = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("usage: stipple"), done.stderr
