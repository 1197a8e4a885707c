"""Document: position encodings, line ends, and an incremental tree equal to a fresh parse."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
from lsp_helpers import FIXTURES

from lsp_server.documents import UTF8, UTF16, UTF32, Document
from lsp_server.languages import LANGUAGES, language_for


def nodes(tree) -> list[tuple]:
    """Every node of a tree with its type, byte range and points, in document order."""
    out, cursor = [], tree.walk()
    while True:
        node = cursor.node
        out.append((node.type, node.start_byte, node.end_byte, tuple(node.start_point), tuple(node.end_point)))
        if cursor.goto_first_child() or cursor.goto_next_sibling():
            continue
        while cursor.goto_parent():
            if cursor.goto_next_sibling():
                break
        else:
            return out


@pytest.mark.parametrize("encoding, column", [(UTF16, 7), (UTF8, 9), (UTF32, 6)])
def test_position_encodings(encoding: str, column: int):
    doc = Document("file:///e.py", "python", 1, 'a = "😀é"\nb\n', encoding)
    offset = doc.text.index("é")
    assert doc.offset_at(0, column) == offset and doc.position_at(offset) == (0, column)


def test_position_inside_a_surrogate_pair_rounds_down_and_past_end_clamps():
    doc = Document("file:///e.py", "python", 1, "😀x\nyy\n")
    assert doc.offset_at(0, 1) == 0  # half of the emoji
    assert doc.offset_at(0, 99) == 2 and doc.offset_at(99, 0) == len(doc.text)


def test_crlf_and_cr_are_line_breaks_and_kept():
    doc = Document("file:///e.py", "python", 1, "a\r\nb\rc\nd")
    assert [doc.line_text(i) for i in range(4)] == ["a", "b", "c", "d"]
    assert doc.offset_at(1, 1) == 4 and doc.eol() == "\r\n"
    change = SimpleNamespace(range=SimpleNamespace(start=SimpleNamespace(line=0, character=1),
                                                   end=SimpleNamespace(line=1, character=0)), text="X\r\n")
    doc.apply_change(change, 2)
    assert doc.text == "aX\r\nb\rc\nd" and doc.version == 2


def test_full_text_change_replaces_everything():
    doc = Document("file:///e.py", "python", 1, "x = 1\n", language=language_for("python"))
    doc.apply_change(SimpleNamespace(text="def f():\n    pass\n"), 2)
    assert doc.tree.root_node.children[0].type == "function_definition"


SNIPPETS = ["(", ")", "\n", "    ", "def g(x):\n    return x\n", '"s"', "# c\n", "{", "}", "😀", "\r\n", "x = [1, 2]\n",
            "let", "fn", ";", "é", "'", "\t"]


@pytest.mark.parametrize("name", ["py_after_code.py", "js_after_code.js", "ts_blank_in_interface.ts",
                                  "tsx_in_jsx.tsx", "rs_after_code.rs", "go_after_code.go"])
def test_incremental_tree_equals_fresh_parse_after_random_edits(name: str):
    rng = random.Random(name)
    path = FIXTURES / "context" / name
    language_id = {"py": "python", "js": "javascript", "ts": "typescript", "tsx": "typescriptreact",
                   "rs": "rust", "go": "go"}[path.suffix[1:]]
    text = path.read_text(encoding="utf-8").replace("<|>", "") * 3
    doc = Document(path.as_uri(), language_id, 1, text, UTF16, language_for(language_id))
    parser = LANGUAGES[doc.language.name].parser()
    for version in range(2, 80):
        start = rng.randrange(len(doc.text) + 1)
        end = min(len(doc.text), start + rng.choice([0, 0, 1, 3, 10]))
        if doc.text[start - 1:start + 1] == "\r\n" or doc.text[end - 1:end + 1] == "\r\n":
            continue  # an LSP position cannot fall between '\r' and '\n'
        (sl, sc), (el, ec) = doc.position_at(start), doc.position_at(end)
        change = SimpleNamespace(range=SimpleNamespace(start=SimpleNamespace(line=sl, character=sc),
                                                       end=SimpleNamespace(line=el, character=ec)),
                                 text=rng.choice(SNIPPETS))
        expected = doc.text[:start] + change.text + doc.text[end:]
        doc.apply_change(change, version)
        assert doc.text == expected
        fresh = parser.parse(doc.text.encode("utf-8"))
        assert str(doc.tree.root_node) == str(fresh.root_node)
        assert nodes(doc.tree) == nodes(fresh)


@pytest.mark.parametrize("text, edit, expected", [  # JSON's \\udXXX escapes can carry half a pair (fuzzing)
    ("x = '\ud800'", None, "x = '\ufffd'"),
    ("ab", "\udfff\ud800", "a\ufffd\ufffdb"),
    ("a", "\U0001F600", "\U0001F600a"),  # a whole pair is kept
])
def test_lone_surrogates_become_replacement_characters(text: str, edit: str | None, expected: str):
    doc = Document("file:///s.py", "python", 1, text, language=language_for("python"))
    if edit is not None:
        doc.replace(1 if edit.startswith("\udfff") else 0, 1 if edit.startswith("\udfff") else 0, edit, 2)
    assert doc.text == expected
    assert doc.tree is not None and doc.position_at(len(doc.text)) == (0, len(expected.encode("utf-16-le")) // 2)


def test_a_parse_past_its_budget_leaves_no_tree_and_does_not_hold_the_server():
    """Found by fuzzing: 10 MB of binary bytes took tree-sitter 15 s per parse, on the event loop."""
    import time

    text = bytes(range(1, 256)).decode("latin-1") * (10 * 2**20 // 255)
    started = time.perf_counter()
    doc = Document("file:///blob.py", "python", 1, text, language=language_for("python"))
    doc.replace(5, 5, "z", 2)
    assert doc.tree is None and time.perf_counter() - started < 10  # about 1 s of parsing, not 30
    assert Document("file:///ok.py", "python", 1, "x = 1\n", language=language_for("python")).tree is not None
