"""WorkspaceService: what the server holds of its workspace: the index of its folders and the watcher
that keeps it current, the outlines of open documents (they override the disk), their recent edits, and
each document's previous selection (retrieval keeps it stable between keystrokes).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable, Mapping

from pygls.uris import to_fs_path

from lsp_server.documents import Document
from lsp_server.workspace.files import FileRules
from lsp_server.workspace.index import WorkspaceIndex
from lsp_server.workspace.outline import Outline, outline
from lsp_server.workspace.retrieval import Query, RecentEdit, Retrieved, retrieve, usage_counts
from lsp_server.workspace.watcher import IndexWatcher

log = logging.getLogger("stipple.workspace")

RECENT_DOCUMENTS = 8  # open documents whose last edit is remembered
RECENT_LINES = (2, 4)  # lines shown before and after an edit
USAGE_EVERY = 50  # document versions between two counts of its identifiers


def uri_path(uri: str) -> str:
    return (to_fs_path(uri) or "") if uri.startswith("file:") else ""


class WorkspaceService:
    def __init__(self) -> None:
        self.index = WorkspaceIndex()
        self.watcher: IndexWatcher | None = None
        self.ready = False  # the first scan is done
        self.previous: dict[str, frozenset] = {}  # uri -> keys chosen last time
        self.edits: OrderedDict[str, int] = OrderedDict()  # uri -> row of its latest edit, newest last
        self._outlines: dict[str, tuple[int, Outline]] = {}  # uri -> (version, outline)
        self._usage: dict[str, tuple[int, dict[str, int]]] = {}  # uri -> (version, identifier counts)

    def configure(self, roots: Iterable[str], exclude: Iterable[str] = ()) -> None:
        """A fresh, empty index over roots (the watcher of the old one is stopped)."""
        self.stop()
        self.index = WorkspaceIndex([FileRules(root, tuple(exclude)) for root in roots])
        self.ready = False

    def scan(self, progress=None, paths: list[str] | None = None) -> int:
        """The first indexing (blocking: run it off the event loop), then watch."""
        count = self.index.scan(progress, paths)
        self.ready = True
        self.watcher = IndexWatcher(self.index)
        self.watcher.start()
        log.info("workspace indexed: %d files, %d names", count, len(self.index.by_name))
        return count

    def stop(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None

    def edited(self, uri: str, row: int) -> None:
        self.edits[uri] = row
        self.edits.move_to_end(uri)
        while len(self.edits) > RECENT_DOCUMENTS:
            self.edits.popitem(last=False)

    def forget(self, uri: str) -> None:
        for table in (self.previous, self.edits, self._outlines, self._usage):
            table.pop(uri, None)

    def outline_of(self, doc: Document) -> Outline | None:
        """The open document's outline, recomputed once per version from its syntax tree."""
        if doc.tree is None or doc.language is None:
            return None
        cached = self._outlines.get(doc.uri)
        if cached is None or cached[0] != doc.version:
            cached = self._outlines[doc.uri] = (doc.version, outline(
                doc.tree.root_node, doc.text.encode("utf-8"), doc.language.name))
        return cached[1]

    def usage_of(self, doc: Document) -> dict[str, int]:
        """Identifier counts of the document, recounted every USAGE_EVERY versions (they drift slowly)."""
        cached = self._usage.get(doc.uri)
        if cached is None or not 0 <= doc.version - cached[0] < USAGE_EVERY:
            cached = self._usage[doc.uri] = (doc.version, usage_counts(doc.text))
        return cached[1]

    def context_for(self, doc: Document, offset: int, budget_tokens: int,
                    documents: Mapping[str, Document]) -> Retrieved:
        """The block of other files' definitions for the cursor at offset in doc."""
        if not self.ready or budget_tokens <= 0 or doc.language is None:
            return Retrieved()
        others = {uri_path(uri): other for uri, other in documents.items() if uri != doc.uri and uri_path(uri)}
        query = Query(uri_path(doc.uri), doc.language.name, doc.text, offset, budget_tokens, self.outline_of(doc),
                      {path: o for path, other in others.items() if (o := self.outline_of(other)) is not None},
                      self._recent(documents, doc.uri), self.previous.get(doc.uri, frozenset()),
                      self.usage_of(doc))
        result = retrieve(self.index, query)
        self.previous[doc.uri] = result.keys
        return result

    def _recent(self, documents: Mapping[str, Document], current: str) -> list[RecentEdit]:
        recent = []
        for uri in reversed(self.edits):
            doc = documents.get(uri)
            if uri == current or doc is None or not uri_path(uri):
                continue
            row = min(self.edits[uri], len(doc.line_starts) - 1)
            first, last = max(0, row - RECENT_LINES[0]), min(len(doc.line_starts) - 1, row + RECENT_LINES[1])
            text = "\n".join(doc.line_text(r) for r in range(first, last + 1)).strip("\n")
            if text.strip():
                recent.append(RecentEdit(uri_path(uri), first, text))
        return recent
