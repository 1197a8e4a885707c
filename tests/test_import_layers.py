"""The layers, read from the source: arrows point down and no two top-level packages import each other.

    benchmarks/  ->  lsp_server/, engine/      (the top: benchmarks/cli.py is the `stipple` entry point)
    lsp_server/  ->  engine/
    engine/      ->  nothing of ours

Every module is parsed, never imported, and every import counts: at the top of a file, inside a
function (the lazy ones), or a literal `importlib.import_module("...")`. Besides, only the entry point
imports the server's command line: a benchmark that needs the server starts it as a process and speaks
the protocol, as an editor does. Run on its own: `python -m pytest tests/test_import_layers.py`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# What each package may import of the others; a package not named is not ours.
MAY_IMPORT = {"engine": set(), "lsp_server": {"engine"}, "benchmarks": {"engine", "lsp_server"}}
SERVER_CLI = ("lsp_server.cli", "lsp_server.cli_serve", "lsp_server.__main__")
ENTRY_POINT = "benchmarks.cli"


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, dotted name) of every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module
            if node.level:  # from . import x, from ..y import x
                base = ".".join(package[: len(package) - node.level + 1] + [node.module or ""]).strip(".")
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]  # a submodule or a name
        elif (name := literal_import(node)) is not None:
            found.append((node.lineno, name))
    return found


def literal_import(node: ast.AST) -> str | None:
    """The module of `importlib.import_module("x")` or `__import__("x")` when it is written out."""
    if not isinstance(node, ast.Call) or not node.args:
        return None
    func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
    first = node.args[0]
    if func in ("import_module", "__import__") and isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value
    return None


def package_modules(root: Path, package: str) -> list[Path]:
    """The package's modules: every .py file whose folders all hold an __init__.py (benchmarks/samples,
    the code holes the benchmarks complete, is data)."""
    top = root / package
    return [path for path in sorted(top.rglob("*.py"))
            if all((folder / "__init__.py").is_file() for folder in path.parents if folder.is_relative_to(top))]


def violations(root: Path = REPO) -> list[str]:
    problems = []
    for package, allowed in MAY_IMPORT.items():
        for path in package_modules(root, package):
            name = module_name(path, root)
            for line, target in imported_modules(path, root):
                top = target.split(".")[0]
                where = f"{path.relative_to(root)}:{line}: {name} imports {target}"
                if top in MAY_IMPORT and top != package and top not in allowed:
                    problems.append(f"{where} ({package} may import only {sorted(allowed) or 'none of ours'})")
                elif any(target == cli or target.startswith(cli + ".") for cli in SERVER_CLI) \
                        and package != "lsp_server" and name != ENTRY_POINT:
                    problems.append(f"{where} (only {ENTRY_POINT} gathers the server's subcommands)")
    return problems


def test_arrows_point_down():
    assert violations() == []


def test_no_two_packages_import_each_other():
    for a, uses in MAY_IMPORT.items():
        for b in uses:
            assert a not in MAY_IMPORT[b], f"{a} and {b} may import each other"


@pytest.mark.parametrize(("package", "line", "reason"), [
    ("engine/denoise", "from lsp_server.settings import Settings", "engine may import only none of ours"),
    ("engine/weights", "    from benchmarks import humaneval_infill", "engine may import only none of ours"),
    ("lsp_server", "import benchmarks.cli_eval", "lsp_server may import only ['engine']"),
    ("lsp_server/workspace", "from ..cli_eval import x", None),  # relative: lsp_server.cli_eval is ours, allowed
    ("lsp_server", "importlib.import_module('benchmarks.profile')", "lsp_server may import only ['engine']"),
    ("benchmarks/latency", "from lsp_server.cli import main", "only benchmarks.cli gathers"),
    ("benchmarks", "from lsp_server.spans import METHOD", None),
])
def test_the_check_sees_a_wrong_import(tmp_path, package, line, reason):
    """The check is not vacuous: one wrong line in a copy of the tree is found, with its place."""
    for top in MAY_IMPORT:
        for path in package_modules(REPO, top):
            copy = tmp_path / path.relative_to(REPO)
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    bad = tmp_path / package / "wrong.py"
    bad.write_text(f"import importlib\n\n\ndef f():\n{line if line.startswith(' ') else '    ' + line}\n")
    found = violations(tmp_path)
    if reason is None:
        assert found == []
    else:
        assert len(found) == 1 and f"{package}/wrong.py:5:" in found[0] and reason in found[0], found
