"""Workspace test helpers: a file tree from a dict, and an index over it."""

from __future__ import annotations

from pathlib import Path

from lsp_server.workspace.files import FileRules
from lsp_server.workspace.index import WorkspaceIndex


def make_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def indexed(root: Path, exclude: tuple[str, ...] = ()) -> WorkspaceIndex:
    index = WorkspaceIndex([FileRules(root, exclude)])
    index.scan()
    return index


def relative_files(index: WorkspaceIndex, root: Path) -> set[str]:
    real = Path(index.rules[0].root)
    return {str(Path(path).relative_to(real)) for path in index.files}
