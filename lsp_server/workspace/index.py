"""WorkspaceIndex: the outlines of a workspace's files, by path and by defined name.

Written by the indexing thread (first scan, then the watcher), read by retrieval on the event loop:
every access goes through one lock, held for dictionary updates and lookups only (parsing happens
outside it). Memory is bounded: at most `max_files` files, MAX_DEFINITIONS definitions a file, headers
of at most MAX_HEADER characters, names interned.
"""

from __future__ import annotations

import logging
import os
import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from lsp_server.workspace.files import FileRules, language_of, walk
from lsp_server.workspace.outline import Definition, Outline, outline_text

log = logging.getLogger("stipple.workspace")

MAX_FILES = 50_000
Progress = Callable[[int, int], None]  # (files done, files in all)
Holders = str | set[str]


def _add(table: dict[str, Holders], key: str, path: str) -> None:
    held = table.get(key)
    if held is None or held == path:
        table[key] = path
    elif isinstance(held, str):
        table[key] = {held, path}
    else:
        held.add(path)


def _discard(table: dict[str, Holders], key: str, path: str) -> None:
    held = table.get(key)
    if held == path:
        del table[key]
    elif isinstance(held, set):
        held.discard(path)
        if len(held) == 1:
            table[key] = held.pop()


def _paths(held: Holders | None) -> tuple[str, ...] | set[str]:
    return () if held is None else (held,) if isinstance(held, str) else held


def module_keys(path: str) -> list[str]:
    """The names an import may use for the file at path: its stem and, for a package's __init__.py /
    index.ts / mod.rs / a Go file, its folder's name (imports name folders)."""
    parts = path.rsplit(".", 1)[0].split("/")
    keys = [parts[-1]]
    if len(parts) > 1 and (parts[-1] in ("__init__", "index", "mod", "lib") or path.endswith(".go")):
        keys.append(parts[-2])
    return keys


@dataclass
class WorkspaceIndex:
    """Outlines of the indexed files of one or more workspace folders."""

    rules: list[FileRules] = field(default_factory=list)
    """One per workspace folder; a path belongs to the first whose root holds it."""
    max_files: int = MAX_FILES
    """Files beyond this many are not indexed (a warning is logged)."""
    files: dict[str, Outline] = field(default_factory=dict)
    """Absolute path -> outline."""
    by_name: dict[str, Holders] = field(default_factory=dict)
    """Defined name -> the file that defines it, or a set of them (most names have one: a set each
    would be a third of the index's memory)."""
    by_module: dict[str, Holders] = field(default_factory=dict)
    """Module key (module_keys) -> absolute path(s), as by_name."""
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    generation: int = 0
    """Bumped on every change (retrieval caches go by it)."""
    _sorted_names: list[str] = field(default_factory=list, repr=False)
    _sorted_generation: int = -1

    def rules_for(self, path: str) -> FileRules | None:
        for rules in self.rules:
            if rules.relative(path) is not None:
                return rules
        return None

    def scan(self, progress: Progress | None = None, paths: list[str] | None = None) -> int:
        """Index every file the rules admit (or the given absolute paths); returns how many."""
        paths = self.list_files() if paths is None else paths
        for number, path in enumerate(paths, 1):
            self.update(path, checked=True)
            if progress is not None and (number % 200 == 0 or number == len(paths)):
                progress(number, len(paths))
        return len(paths)

    def list_files(self) -> list[str]:
        found: list[str] = []
        for rules in self.rules:
            found += [str(rules.root / rel) for rel in walk(rules, self.max_files - len(found))]
        return found

    def update(self, path: str, text: str | None = None, checked: bool = False) -> bool:
        """(Re)index path from disk (or from text); False when the rules skip it (it is then dropped).
        checked: the path comes from walk(), which applied the name rules already."""
        path = os.path.abspath(path)
        rules = self.rules_for(path)
        language = language_of(path)
        if text is None and rules is not None and (checked or rules.accepts(path)):
            text = rules.readable(path)
        if text is None or language is None:
            self.remove(path)
            return False
        try:
            outline = outline_text(text, language)
        except Exception:  # a grammar failing on odd input must not stop the indexing thread
            log.exception("cannot outline %s", path)
            return False
        with self.lock:
            if path not in self.files and len(self.files) >= self.max_files:
                return False
            self._drop(path)
            self.files[path] = outline
            for definition in outline.definitions:
                _add(self.by_name, definition.name, path)
            for key in module_keys(path.replace(os.sep, "/")):
                _add(self.by_module, key, path)
            self.generation += 1
        return True

    def remove(self, path: str) -> None:
        with self.lock:
            if self._drop(os.path.abspath(path)):
                self.generation += 1

    def remove_under(self, folder: str) -> None:
        """Drop every file under folder (a deleted or renamed directory)."""
        prefix = os.path.abspath(folder) + os.sep
        with self.lock:
            for path in [p for p in self.files if p.startswith(prefix)]:
                self._drop(path)
            self.generation += 1

    def _drop(self, path: str) -> bool:
        outline = self.files.pop(path, None)
        if outline is None:
            return False
        for definition in outline.definitions:
            _discard(self.by_name, definition.name, path)
        for key in module_keys(path.replace(os.sep, "/")):
            _discard(self.by_module, key, path)
        return True

    def definitions_named(self, names: Iterable[str]) -> list[tuple[str, Definition]]:
        """(path, definition) for every definition of the given names."""
        found = []
        with self.lock:
            for name in names:
                for path in _paths(self.by_name.get(name)):
                    found += [(path, d) for d in self.files[path].definitions if d.name == name]
        return found

    def files_of_module(self, key: str) -> set[str]:
        with self.lock:
            return set(_paths(self.by_module.get(key)))

    def outline_of(self, path: str) -> Outline | None:
        with self.lock:
            return self.files.get(path)

    def names_with_prefix(self, prefix: str, limit: int = 64) -> list[str]:
        """Defined names starting with prefix (a word being typed), at most limit of them, shortest first."""
        with self.lock:
            if self._sorted_generation != self.generation:  # rebuilt after a change, not per keystroke
                self._sorted_names, self._sorted_generation = sorted(self.by_name), self.generation
            names = self._sorted_names
        start = bisect_left(names, prefix)
        found = []
        for name in names[start:]:
            if not name.startswith(prefix) or len(found) >= 4 * limit:
                break
            if name != prefix:
                found.append(name)
        return sorted(found, key=len)[:limit]

    def __len__(self) -> int:
        return len(self.files)
