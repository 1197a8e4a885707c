"""A file's outline: its definitions (functions, classes, methods, types, constants) and imports, read
with tree-sitter from the top level and one level of members (class bodies, impls, traits, modules).

Function bodies are never walked, so a file's outline costs one parse and a few hundred node visits.
Headers are what a reader needs to call the thing: `def area(self, scale: float = 1.0) -> float:`,
`pub fn new(width: u32) -> Self`, `func (p *Point) Dist(q Point) float64`, whitespace collapsed.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from tree_sitter import Node

from lsp_server.languages import LANGUAGES

MAX_HEADER = 160  # characters of a rendered header; longer ones are cut
MAX_DEFINITIONS = 400  # per file: a generated table of constants must not flood the index
WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Definition:
    """One named definition in a file."""

    name: str
    """The defined name (interned: the index keys by it)."""
    kind: str
    """"function", "class", "method", "type" or "constant"."""
    line: int
    """0-based row of the definition's first line (decorators excluded)."""
    header: str
    """Its signature or first line, whitespace collapsed, at most MAX_HEADER characters."""
    parent: str = ""
    """The enclosing class, impl type, trait or module for a member; "" at the top level."""
    body: bool = False
    """Whether a body was cut off after the header (the renderer writes `...` or `{ ... }` for it)."""


@dataclass(frozen=True, slots=True)
class Import:
    """One imported module and the names taken from it."""

    module: str
    """The module as written: "pkg.geometry", ".models", "./geo", "crate::geo", "example.com/x/geo"."""
    names: tuple[str, ...] = ()
    """Names imported from it (their defined names, before any `as`)."""
    alias: str = ""
    """The name the module itself is bound to (`import numpy as np`, `* as ns`, Go's package name)."""


@dataclass(frozen=True, slots=True)
class Outline:
    """What the index keeps of one file."""

    language: str
    """The languageId of the grammar that read it."""
    definitions: tuple[Definition, ...]
    """In source order, at most MAX_DEFINITIONS."""
    imports: tuple[Import, ...]
    """In source order."""


_JS = {"function_declaration": "function", "generator_function_declaration": "function",
       "class_declaration": "class", "abstract_class_declaration": "class", "class": "class",
       "interface_declaration": "type", "type_alias_declaration": "type", "enum_declaration": "type",
       "method_definition": "method", "function_signature": "function", "abstract_method_signature": "method"}
KINDS: dict[str, dict[str, str]] = {
    "python": {"function_definition": "function", "class_definition": "class", "assignment": "constant"},
    "javascript": _JS, "typescript": _JS, "typescriptreact": _JS,
    "rust": {"function_item": "function", "function_signature_item": "function", "struct_item": "type",
             "enum_item": "type", "trait_item": "type", "type_item": "type", "union_item": "type",
             "macro_definition": "function", "const_item": "constant", "static_item": "constant",
             "mod_item": "type", "impl_item": "impl"},
    "go": {"function_declaration": "function", "method_declaration": "method", "type_spec": "type",
           "const_spec": "constant", "var_spec": "constant"},
}
# Nodes that hold definitions without being one: decorators, export, declarations of several names.
WRAPPERS = frozenset({"decorated_definition", "export_statement", "lexical_declaration", "variable_declaration",
                      "expression_statement", "type_declaration", "const_declaration", "var_declaration",
                      "ambient_declaration"})
CONTAINERS = frozenset({"class_definition", "class_declaration", "abstract_class_declaration", "impl_item",
                        "trait_item", "mod_item"})
IMPORTS = frozenset({"import_statement", "import_from_statement", "use_declaration", "import_declaration"})
GO_SPECS = {"type_spec": "type", "const_spec": "const", "var_spec": "var"}
FUNCTION_VALUES = frozenset({"arrow_function", "function_expression", "function", "generator_function"})


def outline(tree_root: Node, source: bytes, language: str) -> Outline:
    """The Outline of a parsed file (language: a key of LANGUAGES)."""
    kinds = KINDS.get(LANGUAGES[language].name if language in LANGUAGES else language, {})
    definitions: list[Definition] = []
    imports: list[Import] = []
    for node in tree_root.children:
        if node.type in IMPORTS:
            imports.extend(parse_imports(_text(source, node), language))
        else:
            _visit(node, source, kinds, "", definitions, language)
        if len(definitions) >= MAX_DEFINITIONS:
            break
    return Outline(language, tuple(definitions[:MAX_DEFINITIONS]), tuple(imports))


_parsers = threading.local()  # one Parser per language and thread (a Parser is not shared across threads)


def outline_text(text: str, language: str) -> Outline:
    """Parse text and return its Outline."""
    source = text.encode("utf-8", errors="replace")
    parsers = _parsers.__dict__
    parser = parsers.get(language) or parsers.setdefault(language, LANGUAGES[language].parser())
    return outline(parser.parse(source).root_node, source, language)


def _text(source: bytes, node: Node, end: int | None = None) -> str:
    return source[node.start_byte:node.end_byte if end is None else end].decode("utf-8", errors="replace")


def _header(raw: str) -> str:
    header = WHITESPACE.sub(" ", raw).strip()
    return header if len(header) <= MAX_HEADER else header[: MAX_HEADER - 3].rstrip() + "..."


def _visit(node: Node, source: bytes, kinds: dict[str, str], parent: str, out: list[Definition],
           language: str, depth: int = 0) -> None:
    if node.type in WRAPPERS:
        for child in node.named_children:
            _visit(child, source, kinds, parent, out, language, depth)
        return
    if node.type == "variable_declarator":
        _declarator(node, source, parent, out)
        return
    kind = kinds.get(node.type)
    if kind is None:
        return
    name_node = node.child_by_field_name("type" if node.type == "impl_item" else "name")
    if node.type == "assignment":
        name_node = node.child_by_field_name("left")
        if parent or name_node is None or name_node.type != "identifier":
            return  # module-level names only, not class attributes or tuple targets
    if name_node is None:
        return
    name = _text(source, name_node)
    body = node.child_by_field_name("body")
    if node.type == "method_declaration" or (parent and kind == "function"):
        kind = "method"
    if node.type == "method_declaration" and (receiver := node.child_by_field_name("receiver")) is not None:
        parent = (WORD.findall(_text(source, receiver)) or [""])[-1]  # (p *Point) -> Point
    if node.type != "impl_item":
        if body is not None and node.type not in ("type_spec", "assignment"):
            out.append(Definition(_intern(name), kind, node.start_point.row,
                                  _header(_text(source, node, body.start_byte)), parent, True))
        else:
            first = _text(source, node).split("\n", 1)[0]
            if node.type in GO_SPECS:  # `type P struct {`, `const Max = 3`: the keyword sits on the parent
                first = f"{GO_SPECS[node.type]} {first}"
            out.append(Definition(_intern(name), kind, node.start_point.row, _header(first), parent,
                                  first.rstrip().endswith(("{", "(", "["))))
    if node.type in CONTAINERS and body is not None and depth == 0:
        for child in body.named_children:
            _visit(child, source, kinds, name, out, language, depth + 1)


def _declarator(node: Node, source: bytes, parent: str, out: list[Definition]) -> None:
    """`const f = (a) => ...` is a function; `const MAX = 3` a constant (JavaScript, TypeScript)."""
    name_node, value = node.child_by_field_name("name"), node.child_by_field_name("value")
    if name_node is None or name_node.type != "identifier" or parent:
        return
    keyword = node.parent.children[0].type if node.parent is not None and node.parent.children else ""
    name = _intern(_text(source, name_node))
    body = value.child_by_field_name("body") if value is not None and value.type in FUNCTION_VALUES else None
    if body is not None:
        out.append(Definition(name, "function", node.start_point.row,
                              _header(f"{keyword} {_text(source, node, body.start_byte)}"), "", True))
    else:
        first = f"{keyword} {_text(source, node)}".split("\n", 1)[0]
        out.append(Definition(name, "constant", node.start_point.row, _header(first), "",
                              first.rstrip().endswith(("{", "(", "["))))


_interned: dict[str, str] = {}


def _intern(name: str) -> str:
    """One str object per distinct name across the index (memory: names repeat across files)."""
    return _interned.setdefault(name, name) if len(_interned) < 1_000_000 else name


PY_FROM = re.compile(r"from\s+([\w.]+)\s+import\s+(.+)", re.S)
PY_IMPORT = re.compile(r"import\s+(.+)", re.S)
JS_IMPORT = re.compile(r"import\s+(?:type\s+)?(.*?)\s*from\s*['\"]([^'\"]+)['\"]", re.S)
GO_SPEC = re.compile(r"(?:([\w.]+)\s+)?\"([^\"]+)\"")
WORD = re.compile(r"[A-Za-z_]\w*")


def parse_imports(statement: str, language: str) -> list[Import]:
    """The imports of one import statement, by language."""
    if language == "python":
        if match := PY_FROM.match(statement):
            names = [part.split(" as ")[0].strip() for part in match.group(2).strip("() \n").split(",")]
            return [Import(match.group(1), tuple(n for n in names if WORD.fullmatch(n)))]
        if match := PY_IMPORT.match(statement):
            parts = [part.strip().split(" as ") for part in match.group(1).split(",")]
            return [Import(p[0].strip(), (), p[1].strip() if len(p) > 1 else p[0].strip().split(".")[0])
                    for p in parts if p[0].strip()]
    elif language in ("javascript", "typescript", "typescriptreact"):
        if match := JS_IMPORT.match(statement):
            clause, module = match.groups()
            braces = re.search(r"\{(.*)\}", clause, re.S)
            names = tuple(p.strip().split(" as ")[0].strip() for p in braces.group(1).split(",")) if braces else ()
            star = re.search(r"\*\s+as\s+(\w+)", clause)
            default = re.match(r"\s*([A-Za-z_$][\w$]*)\s*(?:,|$)", clause)
            alias = star.group(1) if star else default.group(1) if default else ""
            return [Import(module, tuple(n for n in names if n), alias)]
    elif language == "rust":
        body = statement.removeprefix("pub ").removeprefix("use").strip().rstrip(";").strip()
        if "{" in body:
            module, _, inner = body.partition("{")
            names = tuple(w for w in WORD.findall(re.sub(r"\s+as\s+\w+", "", inner)) if w not in ("self", "super"))
            return [Import(module.rstrip(":"), names)]
        module, _, name = body.rpartition("::")
        return [Import(module, (name.split(" as ")[0].strip(),) if name and name != "*" else ())]
    elif language == "go":
        return [Import(path, (), alias or path.rsplit("/", 1)[-1]) for alias, path in GO_SPEC.findall(statement)]
    return []
