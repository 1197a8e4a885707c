"""Which files of a workspace folder are indexed: the walk and the per-path rule the watcher shares.

A file is indexed when its extension is a supported language's, it is at most MAX_FILE_BYTES, it is not
binary (no NUL byte in its first 8 KiB), no .gitignore on its way down ignores it, no excluded folder
(vendored, generated, virtual environments, VCS) holds it and no `workspace_exclude` glob matches it.
Symlinks are followed only when their target lies inside the workspace folder, each real folder once.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

from lsp_server.languages import LANGUAGES

log = logging.getLogger("stipple.workspace")

EXCLUDED_DIRS = frozenset({"node_modules", ".venv", "venv", "build", "dist", "__pycache__", ".git", "target",
                           "vendor", ".hg", ".svn", ".tox", ".mypy_cache", ".pytest_cache", ".ruff_cache",
                           ".nox", ".eggs", "site-packages", ".next", "coverage", ".idea", ".vscode"})
GENERATED_SUFFIXES = (".min.js", ".bundle.js", "_pb2.py", "_pb2_grpc.py", ".pb.go", ".d.ts.map")
MAX_FILE_BYTES = 256 * 1024
BINARY_PROBE = 8192
EXTENSIONS = frozenset(ext for lang in LANGUAGES.values() for ext in lang.extensions)


def language_of(path: str) -> str | None:
    """The languageId for a file name, by extension; None when not indexed."""
    for lang in LANGUAGES.values():
        if path.endswith(lang.extensions):
            return lang.name
    return None


@dataclass
class FileRules:
    """The indexing rules of one workspace folder."""

    root: Path
    """The workspace folder, resolved (symlinks followed) once."""
    exclude: tuple[str, ...] = ()
    """Extra gitignore-style globs (the `workspace_exclude` setting), relative to the root."""
    max_bytes: int = MAX_FILE_BYTES
    """Larger files are skipped (generated tables, data dumps)."""
    _ignores: dict[str, pathspec.PathSpec | None] = field(default_factory=dict, repr=False)
    """Folder (relative, "" for the root) -> its .gitignore's spec, read on first use."""

    def __post_init__(self) -> None:
        self.root = Path(os.path.realpath(self.root))
        self._extra = pathspec.GitIgnoreSpec.from_lines(self.exclude) if self.exclude else None

    def relative(self, path: str | Path) -> str | None:
        """path relative to the root with "/" separators, or None when it lies outside."""
        rel = os.path.relpath(os.path.abspath(path), self.root)
        return None if rel == os.pardir or rel.startswith(os.pardir + os.sep) else rel.replace(os.sep, "/")

    def forget_gitignore(self, rel_dir: str) -> None:
        """The .gitignore of rel_dir changed: read it again when next needed."""
        self._ignores.pop("" if rel_dir == "." else rel_dir, None)

    def _spec(self, rel_dir: str) -> pathspec.PathSpec | None:
        if rel_dir not in self._ignores:
            try:
                lines = (self.root / rel_dir / ".gitignore").read_text(encoding="utf-8", errors="replace").splitlines()
                self._ignores[rel_dir] = pathspec.GitIgnoreSpec.from_lines(lines)
            except OSError:
                self._ignores[rel_dir] = None
        return self._ignores[rel_dir]

    def ignored(self, rel: str, is_dir: bool) -> bool:
        """Whether rel (relative to the root) is excluded by name, by a .gitignore above it or by a glob."""
        parts = rel.split("/")
        if any(part in EXCLUDED_DIRS for part in (parts if is_dir else parts[:-1])):
            return True
        if not is_dir and (rel.endswith(GENERATED_SUFFIXES) or not rel.endswith(tuple(EXTENSIONS))):
            return True
        candidate = rel + "/" if is_dir else rel
        if self._extra is not None and self._extra.match_file(candidate):
            return True
        for depth in range(len(parts)):  # each .gitignore from the root down to rel's folder
            base = "/".join(parts[:depth])
            spec = self._spec(base)
            if spec is not None and spec.match_file(candidate[len(base) + 1 if base else 0:]):
                return True
        return False

    def inside(self, path: str | Path) -> bool:
        """Whether path's real location (symlinks followed) lies inside the root."""
        real = os.path.realpath(path)
        return real == str(self.root) or real.startswith(str(self.root) + os.sep)

    def readable(self, path: str | Path) -> str | None:
        """The file's text when it should be indexed (size, binary, symlink target), else None."""
        try:
            if not self.inside(path):  # the file, or a folder above it, links out of the workspace
                return None
            if os.path.getsize(path) > self.max_bytes:
                return None
            data = Path(path).read_bytes()
        except OSError:
            return None
        if b"\0" in data[:BINARY_PROBE]:
            return None
        return data.decode("utf-8", errors="replace")

    def accepts(self, path: str | Path) -> bool:
        """The watcher's check for one changed path (no file access beyond .gitignore reads)."""
        rel = self.relative(path)
        return rel is not None and rel != "." and not self.ignored(rel, is_dir=False)


def walk(rules: FileRules, limit: int) -> list[str]:
    """Relative paths of the files to index under rules.root (sorted per folder), at most limit of them."""
    found: list[str] = []
    seen_dirs: set[str] = set()
    stack = [""]
    while stack and len(found) < limit:
        rel_dir = stack.pop()
        real = os.path.realpath(rules.root / rel_dir)
        if real in seen_dirs:  # a symlink loop or a second link to the same folder
            continue
        seen_dirs.add(real)
        try:
            entries = sorted(os.scandir(rules.root / rel_dir), key=lambda e: e.name)
        except OSError:
            continue
        subdirs = []
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            try:
                is_link = entry.is_symlink()
                if is_link and not rules.inside(entry.path):
                    continue  # never out of the workspace
                is_dir = entry.is_dir()  # follows an inside link
            except OSError:
                continue
            if rules.ignored(rel, is_dir):
                continue
            if is_dir:
                subdirs.append(rel)
            elif entry.is_file() and len(found) < limit:
                found.append(rel)
        stack.extend(reversed(subdirs))
    if len(found) >= limit:
        log.warning("workspace %s: indexing only the first %d files", rules.root, limit)
    return found
