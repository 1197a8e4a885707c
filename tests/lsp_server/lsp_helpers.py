"""Shared helpers for the lsp_server unit tests: fixture files with a `<|>` cursor marker."""

from __future__ import annotations

from pathlib import Path

from lsp_server.documents import Document
from lsp_server.languages import language_for

FIXTURES = Path(__file__).parent / "fixtures"
MARKER = "<|>"
LANGUAGE_BY_SUFFIX = {".py": "python", ".js": "javascript", ".ts": "typescript", ".tsx": "typescriptreact",
                      ".rs": "rust", ".go": "go"}


def load_marked(name: str, crlf: bool = False) -> tuple[Document, int]:
    """The fixture as an open Document, and the str offset of its cursor marker."""
    path = FIXTURES / "context" / name
    text = path.read_text(encoding="utf-8")
    if crlf:
        text = text.replace("\n", "\r\n")
    offset = text.index(MARKER)
    text = text.replace(MARKER, "")
    language_id = LANGUAGE_BY_SUFFIX[path.suffix]
    return Document(path.as_uri(), language_id, 1, text, language=language_for(language_id)), offset
