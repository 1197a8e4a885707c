"""languageId -> tree-sitter grammar and the node-type tables the cursor context reads.

Grammars come from the per-language wheels (tree-sitter-python, ...), loaded on first use so that
an editor that only opens Go files never loads the TypeScript grammar.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from functools import cache

from tree_sitter import Language as Grammar
from tree_sitter import Parser


@dataclass(frozen=True)
class Language:
    """What the server knows about one language."""

    name: str
    """The canonical LSP languageId."""
    module: str
    """The grammar wheel's module."""
    entry: str
    """The function in module that returns the grammar pointer."""
    no_complete: frozenset[str]
    """Node types inside which nothing is completed: strings, comments, regexes."""
    scopes: frozenset[str]
    """Node types that bound the enclosing scope (functions, classes, impls)."""
    bodies: frozenset[str]
    """Node types of a block body; a cursor on an empty one gets a multi-line completion."""
    block_opener: str
    """The text that ends a block header line (":" in Python, "{" elsewhere)."""
    extensions: tuple[str, ...] = field(default=())
    """File extensions, for clients that send a languageId we do not know."""
    indent_unit: str = "    "
    """Indentation level when the file itself does not show one (gofmt: a tab)."""

    def parser(self) -> Parser:
        return Parser(grammar(self.module, self.entry))


@cache
def grammar(module: str, entry: str) -> Grammar:
    return Grammar(getattr(importlib.import_module(module), entry)())


_JS_SKIP = frozenset({"string", "template_string", "comment", "regex", "string_fragment"})
_JS_SCOPES = frozenset({"function_declaration", "function_expression", "arrow_function", "method_definition",
                        "class_declaration", "class_body", "generator_function_declaration"})
_JS_BODIES = frozenset({"statement_block", "class_body", "object"})
_TS_SCOPES = _JS_SCOPES | {"interface_declaration", "enum_declaration", "abstract_class_declaration"}

LANGUAGES: dict[str, Language] = {lang.name: lang for lang in (
    Language("python", "tree_sitter_python", "language",
             frozenset({"string", "string_content", "comment", "concatenated_string"}),
             frozenset({"function_definition", "class_definition"}), frozenset({"block"}), ":",
             (".py", ".pyi")),
    Language("javascript", "tree_sitter_javascript", "language", _JS_SKIP, _JS_SCOPES, _JS_BODIES, "{",
             (".js", ".mjs", ".cjs", ".jsx")),
    Language("typescript", "tree_sitter_typescript", "language_typescript", _JS_SKIP, _TS_SCOPES,
             _JS_BODIES | {"interface_body", "enum_body"}, "{", (".ts", ".mts", ".cts")),
    Language("typescriptreact", "tree_sitter_typescript", "language_tsx", _JS_SKIP, _TS_SCOPES,
             _JS_BODIES | {"interface_body", "enum_body"}, "{", (".tsx",)),
    Language("rust", "tree_sitter_rust", "language",
             frozenset({"string_literal", "raw_string_literal", "char_literal", "line_comment",
                        "block_comment"}),
             frozenset({"function_item", "impl_item", "trait_item", "mod_item", "struct_item", "enum_item"}),
             frozenset({"block", "declaration_list", "field_declaration_list", "enum_variant_list"}), "{",
             (".rs",)),
    Language("go", "tree_sitter_go", "language",
             frozenset({"interpreted_string_literal", "raw_string_literal", "rune_literal", "comment"}),
             frozenset({"function_declaration", "method_declaration", "func_literal", "type_declaration"}),
             frozenset({"block", "field_declaration_list", "interface_type"}), "{", (".go",), "\t"),
)}
ALIASES = {"javascriptreact": "javascript", "js": "javascript", "jsx": "javascript", "ts": "typescript",
           "tsx": "typescriptreact", "py": "python", "golang": "go"}


def language_for(language_id: str, uri: str = "") -> Language | None:
    """The Language for a languageId (or, failing that, the URI's extension); None if unsupported."""
    name = ALIASES.get(language_id, language_id)
    if name in LANGUAGES:
        return LANGUAGES[name]
    for lang in LANGUAGES.values():
        if uri.endswith(lang.extensions):
            return lang
    return None
