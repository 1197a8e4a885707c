"""The VS Code extension (editors/vscode): builds with tsc (strict) and passes its unit tests, which run
with a mocked `vscode` module under node's test runner. Needs npm; `npm ci` runs once per checkout
(it needs the npm registry or a warm npm cache)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

EXTENSION = Path(__file__).resolve().parents[2] / "editors" / "vscode"
NPM = shutil.which("npm")

pytestmark = pytest.mark.skipif(NPM is None, reason="npm is not installed")


def npm(*args: str, timeout: float) -> subprocess.CompletedProcess:
    result = subprocess.run([NPM, *args], cwd=EXTENSION, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"npm {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result


def test_extension_builds_and_passes_unit_tests():
    if not (EXTENSION / "node_modules" / "vscode-languageclient").is_dir():
        npm("ci", "--prefer-offline", "--no-audit", "--no-fund", timeout=300)
    npm("run", "compile", timeout=120)
    assert (EXTENSION / "out" / "extension.js").is_file()
    result = npm("test", timeout=120)
    assert "# fail 0" in result.stdout, result.stdout[-4000:]
    assert "# pass 0" not in result.stdout
