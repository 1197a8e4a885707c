"""IndexWatcher: keeps a WorkspaceIndex current with watchfiles, on its own daemon thread.

watchfiles (the Rust notify crate: inotify, FSEvents, ReadDirectoryChangesW) batches the changes of
DEBOUNCE_MS; each batch is applied here: a deleted path leaves the index (a folder: everything under
it), a created or modified file is re-read, a created folder (a rename lands as one) is walked, and a
changed .gitignore re-checks the whole folder. Batches are applied one by one, so memory stays bounded
by one batch whatever the rate of changes.
"""

from __future__ import annotations

import logging
import os
import threading

import watchfiles

from lsp_server.workspace.files import EXCLUDED_DIRS, EXTENSIONS, walk
from lsp_server.workspace.index import WorkspaceIndex

log = logging.getLogger("stipple.workspace")

DEBOUNCE_MS = 100  # changes within this window are applied together
STEP_MS = 30  # how often the Rust side checks for changes and for the stop event


def worth_a_look(change: watchfiles.Change, path: str) -> bool:
    """watchfiles' filter: skip what can never matter before it reaches Python-level work."""
    parts = path.replace(os.sep, "/").split("/")
    if any(part in EXCLUDED_DIRS for part in parts[:-1]):
        return False
    name = parts[-1]
    return name == ".gitignore" or name.endswith(tuple(EXTENSIONS)) or "." not in name.lstrip(".")


class IndexWatcher:
    """Watches the index's workspace folders until stop()."""

    def __init__(self, index: WorkspaceIndex, debounce_ms: int = DEBOUNCE_MS) -> None:
        self.index = index
        self.debounce_ms = debounce_ms
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.batches = 0  # change batches applied (tests wait on it)

    def start(self) -> None:
        roots = [str(rules.root) for rules in self.index.rules if rules.root.is_dir()]
        if not roots:
            return
        self.thread = threading.Thread(target=self._run, args=(roots,), name="stipple-watch", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join(timeout=2)

    def _run(self, roots: list[str]) -> None:
        try:
            for changes in watchfiles.watch(*roots, watch_filter=worth_a_look, debounce=self.debounce_ms,
                                            step=STEP_MS, stop_event=self.stopping, raise_interrupt=False,
                                            ignore_permission_denied=True):
                self.apply(changes)
        except Exception:  # the index stays as it was; completions go on without updates
            log.exception("workspace watcher stopped")

    def apply(self, changes: set[tuple[watchfiles.Change, str]]) -> None:
        """Apply one batch of changes (also called directly by tests)."""
        rescan = False
        for change, path in sorted(changes, key=lambda c: (c[1], c[0] != watchfiles.Change.deleted)):
            if os.path.basename(path) == ".gitignore":
                rules = self.index.rules_for(path)
                if rules is not None:
                    rules.forget_gitignore(rules.relative(os.path.dirname(path)) or "")
                    rescan = True
            elif change == watchfiles.Change.deleted or not os.path.exists(path):
                self.index.remove(path)
                self.index.remove_under(path)
            elif os.path.isdir(path):
                self._add_folder(path)
            else:
                self.index.update(path)
        if rescan:
            self.rescan()
        self.batches += 1

    def _add_folder(self, path: str) -> None:
        rules = self.index.rules_for(path)
        rel = rules.relative(path) if rules is not None else None
        if rules is None or rel is None or rules.ignored(rel, is_dir=True) or not rules.inside(path):
            return
        sub = type(rules)(path, rules.exclude, rules.max_bytes)  # a walk rooted here, same limits
        for child in walk(sub, self.index.max_files):
            self.index.update(os.path.join(path, child))  # update() re-checks the outer .gitignores

    def rescan(self) -> None:
        """Re-list every folder: index what is now admitted, drop what no longer is."""
        listed = set(self.index.list_files())
        for path in [p for p in list(self.index.files) if p not in listed]:
            self.index.remove(path)
        for path in listed:
            if path not in self.index.files:
                self.index.update(path)
