"""Behaviour of benchmarks.sandbox: what a candidate program may and may not do."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import pytest

from benchmarks.sandbox import BLOCKED, ERROR, FAILED, PASSED, TIMEOUT, run_program


def test_correct_program_passes() -> None:
    source = (
        "import collections, functools, hashlib, heapq, itertools, math, re, string\n"
        "assert math.gcd(12, 18) == 6\n"
        "assert list(itertools.accumulate([1, 2, 3])) == [1, 3, 6]\n"
        "assert hashlib.md5(b'abc').hexdigest() == '900150983cd24fb0d6963f7d28e17f72'\n"
        "assert re.findall(r'\\d+', 'a1b22') == ['1', '22']\n"
        "assert collections.Counter('aab')['a'] == 2\n"
        "print('noise on stdout is fine')\n"
    )
    result = run_program(source)
    assert result.passed, result.detail
    assert result.status == PASSED


def test_failed_assertion_is_failed() -> None:
    result = run_program("def f(x):\n    return x\nassert f(1) == 2, 'wrong answer'\n")
    assert not result.passed
    assert result.status == FAILED
    assert "wrong answer" in result.detail


def test_syntax_error_is_error() -> None:
    result = run_program("def f(:\n    pass\n")
    assert (result.passed, result.status) == (False, ERROR)
    assert "SyntaxError" in result.detail


def test_early_exit_does_not_pass() -> None:
    # exit(0) before the tests would otherwise look like success.
    for source in ("import sys\nsys.exit(0)\nassert False\n", "exit()\n", "import os\nos._exit(0)\n"):
        result = run_program(source)
        assert not result.passed, source


def test_infinite_loop_times_out() -> None:
    start = time.monotonic()
    result = run_program("while True:\n    pass\n", timeout_s=1.0)
    elapsed = time.monotonic() - start
    assert (result.passed, result.status) == (False, TIMEOUT)
    assert elapsed < 4.0


def test_printing_forever_is_stopped() -> None:
    start = time.monotonic()
    result = run_program("while True:\n    print('x' * 10000)\n", timeout_s=1.0)
    assert not result.passed
    assert time.monotonic() - start < 4.0


def test_flooding_stderr_is_capped() -> None:
    result = run_program("import sys\nwhile True:\n    sys.stderr.write('x' * 100000)\n", timeout_s=5.0)
    assert not result.passed
    assert len(result.detail) <= 2000


def test_memory_bomb_fails() -> None:
    # 3 GiB would fit on the test machine, so failing proves the address-space limit.
    start = time.monotonic()
    result = run_program("x = bytearray(3 * 1024**3)\n", timeout_s=10.0)
    assert (result.passed, result.status) == (False, ERROR)
    assert "MemoryError" in result.detail
    assert time.monotonic() - start < 5.0


def test_socket_connection_is_blocked() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        for connect in (
            f"socket.create_connection(('127.0.0.1', {port}), timeout=1)",
            f"socket.socket(socket.AF_INET, socket.SOCK_STREAM).connect(('127.0.0.1', {port}))",
            f"urllib.request.urlopen('http://127.0.0.1:{port}/', timeout=1)",
        ):
            result = run_program(f"import socket, urllib.request\n{connect}\n")
            assert (result.passed, result.status) == (False, BLOCKED), connect
            assert "network" in result.detail
        server.settimeout(0.2)
        with pytest.raises(TimeoutError):
            server.accept()  # nobody connected


def test_swallowed_violation_still_blocked() -> None:
    result = run_program("import socket\ntry:\n    socket.socket()\nexcept BaseException:\n    pass\n")
    assert (result.passed, result.status) == (False, BLOCKED)


@pytest.mark.parametrize(
    "write",
    [
        "open(TARGET, 'w').write('x')",
        "open(TARGET, 'a').close()",
        "import pathlib; pathlib.Path(TARGET).write_text('x')",
        "import pathlib; pathlib.Path(TARGET).touch()",
        "import os; os.close(os.open(TARGET, os.O_WRONLY | os.O_CREAT))",
        "import io; io.FileIO(TARGET, 'w').close()",
        "import os; os.mkdir(TARGET)",
        "import os; os.symlink('/etc/passwd', TARGET)",
    ],
)
def test_write_outside_sandbox_is_blocked(tmp_path: Path, write: str) -> None:
    target = tmp_path / "outside.txt"
    result = run_program(f"TARGET = {str(target)!r}\n{write}\n")
    assert (result.passed, result.status) == (False, BLOCKED)
    assert not target.exists() and not target.is_symlink()


def test_delete_and_rename_outside_sandbox_are_blocked(tmp_path: Path) -> None:
    victim = tmp_path / "keep.txt"
    victim.write_text("precious")
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "f.txt").write_text("x")
    for action in (
        f"import os; os.remove({str(victim)!r})",
        f"import os; os.rename({str(victim)!r}, 'stolen.txt')",
        f"import shutil; shutil.rmtree({str(tree)!r})",
        f"import shutil; shutil.rmtree({str(tree)!r}, ignore_errors=True)",
    ):
        result = run_program(action + "\n")
        assert (result.passed, result.status) == (False, BLOCKED), action
    assert victim.read_text() == "precious"
    assert (tree / "sub" / "f.txt").exists()


def test_writes_inside_sandbox_are_allowed() -> None:
    source = (
        "import os, shutil, tempfile\n"
        "with open('scratch.txt', 'w') as f:\n    f.write('hi')\n"
        "os.mkdir('d')\nopen('d/a', 'w').close()\nos.rename('d/a', 'd/b')\nshutil.rmtree('d')\n"
        "with tempfile.TemporaryFile() as f:\n    f.write(b'x')\n"
        "os.remove('scratch.txt')\n"
    )
    result = run_program(source)
    assert result.passed, result.detail


def test_subprocess_is_blocked(tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    spawn = f"open({str(marker)!r}, 'w').close()"
    for call in (
        f"import subprocess, sys; subprocess.run([sys.executable, '-c', {spawn!r}])",
        f"import os; os.system('touch {marker}')",
        f"import os; os.popen('touch {marker}').read()",
        "import os; os.fork()",
        f"import os; os.execv('/bin/touch', ['touch', {str(marker)!r}])",
        "import ctypes",
    ):
        result = run_program(call + "\n")
        assert (result.passed, result.status) == (False, BLOCKED), call
    assert not marker.exists()


def test_parent_environment_does_not_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STIPPLE_TEST_SECRET", "hunter2")
    result = run_program("import os\nassert 'STIPPLE_TEST_SECRET' not in os.environ\n")
    assert result.passed, result.detail


def test_runs_with_current_interpreter() -> None:
    result = run_program(f"import sys\nassert sys.version_info[:2] == {tuple(sys.version_info[:2])}\n")
    assert result.passed, result.detail
