"""Outlines per language: definitions (name, kind, parent, header) and imports, one row per case."""

from __future__ import annotations

import pytest

from lsp_server.workspace.outline import Import, outline_text

PYTHON = '''import os, numpy as np
from .geo import (area,
    Shape as S)
MAX = 3

@dec
def f(a,
      b: int = 2) -> int:
    inner = 1
    return a

class K(B):
    X = 1

    @property
    def m(self): pass
'''
CASES = [  # (language, source, [(name, kind, parent, header)], imports)
    ("python", PYTHON,
     [("MAX", "constant", "", "MAX = 3"), ("f", "function", "", "def f(a, b: int = 2) -> int:"),
      ("K", "class", "", "class K(B):"), ("m", "method", "K", "def m(self):")],
     [Import("os", (), "os"), Import("numpy", (), "np"), Import(".geo", ("area", "Shape"))]),
    ("typescript", "import { a, b as c } from './geo';\nimport * as ns from '../x/y';\n"
     "export function f(x: number): number { return x }\nexport const g = (y) => y;\n"
     "class K { m(a) { } }\ninterface I { p: number }\nconst MAX = 3;\n",
     [("f", "function", "", "function f(x: number): number"), ("g", "function", "", "const g = (y) =>"),
      ("K", "class", "", "class K"), ("m", "method", "K", "m(a)"), ("I", "type", "", "interface I"),
      ("MAX", "constant", "", "const MAX = 3")],
     [Import("./geo", ("a", "b")), Import("../x/y", (), "ns")]),
    ("javascript", "const { x } = require('y');\nfunction area(r) { return r }\n",
     [("area", "function", "", "function area(r)")], []),
    ("rust", "use crate::geo::{area, Shape as S};\npub fn f(a: i32) -> i32 { a }\nstruct P { x: i32 }\n"
     "impl P {\n    pub fn new() -> Self { P { x: 0 } }\n}\nconst MAX: usize = 3;\n",
     [("f", "function", "", "pub fn f(a: i32) -> i32"), ("P", "type", "", "struct P"),
      ("new", "method", "P", "pub fn new() -> Self"), ("MAX", "constant", "", "const MAX: usize = 3;")],
     [Import("crate::geo", ("area", "Shape"))]),
    ("go", 'package geo\nimport (\n\t"fmt"\n\tm "math"\n)\nfunc Area(r float64) float64 { return r }\n'
     "func (p *Point) Dist(q Point) float64 { return 0 }\ntype Point struct {\n\tX float64\n}\nconst Max = 3\n",
     [("Area", "function", "", "func Area(r float64) float64"),
      ("Dist", "method", "Point", "func (p *Point) Dist(q Point) float64"),
      ("Point", "type", "", "type Point struct {"), ("Max", "constant", "", "const Max = 3")],
     [Import("fmt", (), "fmt"), Import("math", (), "m")]),
]


@pytest.mark.parametrize("language, source, definitions, imports", CASES, ids=[c[0] for c in CASES])
def test_outline(language, source, definitions, imports):
    found = outline_text(source, language)
    assert [(d.name, d.kind, d.parent, d.header) for d in found.definitions] == definitions
    assert list(found.imports) == imports
