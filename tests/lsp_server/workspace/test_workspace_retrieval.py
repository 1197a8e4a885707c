"""Retrieval: what a cursor's block holds, one row per case; budget, header comments, stability,
open documents over the disk, recent edits."""

from __future__ import annotations

import pytest
from ws_helpers import indexed, make_tree

from lsp_server.workspace.outline import outline_text
from lsp_server.workspace.retrieval import Query, RecentEdit, estimate_tokens, retrieve

WORKSPACE = {
    "pkg/geometry.py": "def circle_area(radius: float) -> float:\n    return 3.14 * radius ** 2\n\n\n"
                       "class Shape:\n    def __init__(self, sides: int):\n        self.sides = sides\n\n"
                       "    def perimeter(self, length: float) -> float:\n        return self.sides * length\n\n\n"
                       "MAX_SIDES = 12\n",
    "pkg/units.py": "def to_metres(feet: float) -> float:\n    return feet * 0.3048\n",
    "pkg/noise.py": "def unrelated_helper():\n    pass\n",
    "web/geo.ts": "export function circleArea(radius: number): number { return radius }\n",
    "web/shapes.ts": "export class Polygon {\n  constructor(sides: number) {}\n}\n",
    "crates/geo.rs": "pub struct Point { x: f64 }\nimpl Point {\n    pub fn origin() -> Self { Point { x: 0.0 } }\n}\n",
    "cmd/geo/geo.go": "package geo\n\nfunc Area(r float64) float64 { return r }\n",
}
CASES = [  # (path, language, text with <|>, expected in block, not expected in block)
    ("main.py", "python", "from pkg.geometry import Shape\n\ns = Shape(3)\nprint(circle_ar<|>",
     ["# pkg/geometry.py", "def circle_area(radius: float) -> float: ...", "class Shape:",
      "    def __init__(self, sides: int): ..."], ["unrelated_helper", "circleArea"]),
    ("main.py", "python", "import pkg.units as units\n\nx = units.<|>",
     ["# pkg/units.py", "def to_metres(feet: float) -> float: ..."], ["circle_area"]),
    ("main.py", "python", "def run(shape):\n    return shape.perimeter(<|>",
     ["class Shape:", "    def perimeter(self, length: float) -> float: ..."], ["to_metres"]),
    ("web/app.ts", "typescript", "import { circleArea } from './geo';\nconst p = new Polygon(<|>",
     ["// web/geo.ts", "function circleArea(radius: number): number { ... }", "// web/shapes.ts",
      "class Polygon {", "    constructor(sides: number) { ... }"], ["def circle_area"]),
    ("crates/main.rs", "rust", "use crate::geo::Point;\nfn main() { let p = Point::or<|>",
     ["// crates/geo.rs", "impl Point {", "    pub fn origin() -> Self { ... }"], []),
    ("cmd/main.go", "go", 'package main\nimport "example.com/cmd/geo"\nfunc main() { geo.<|>',
     ["// cmd/geo/geo.go", "func Area(r float64) float64 { ... }"], []),
    ("main.py", "python", "x = 1\ny = <|>", [], ["pkg/"]),  # nothing named: no block
]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = make_tree(tmp_path_factory.mktemp("ws"), WORKSPACE)
    return root, indexed(root)


def query(root, path: str, language: str, marked: str, budget: int = 200, **kw) -> Query:
    text = marked.replace("<|>", "")
    return Query(str(root / path), language, text, marked.index("<|>"), budget, outline_text(text, language), **kw)


@pytest.mark.parametrize("path, language, marked, present, absent", CASES, ids=[c[0] + ":" + c[2][-12:] for c in CASES])
def test_block(workspace, path, language, marked, present, absent):
    root, index = workspace
    block = retrieve(index, query(root, path, language, marked)).block
    for expected in present:
        assert expected in block.split("\n"), block
    for unexpected in absent:
        assert unexpected not in block, block
    assert block == "" or block.endswith("\n\n")  # a blank line before the document's own code


@pytest.mark.parametrize("budget", [0, 12, 30, 200])
def test_budget(workspace, budget: int):
    root, index = workspace
    marked = "from pkg.geometry import Shape\nfrom pkg.units import to_metres\nprint(circle_area(<|>"
    block = retrieve(index, query(root, "main.py", "python", marked, budget)).block
    assert estimate_tokens(block) <= budget
    assert (block == "") == (budget == 0) and ("def circle_area" in block) == (budget >= 30)


def test_selection_is_stable_across_keystrokes(workspace):
    root, index = workspace
    typed = "from pkg.geometry import Shape\nfrom pkg.units import to_metres\n\ndef f(r):\n    return circle_area"
    previous, blocks = frozenset(), []
    for end in range(len(typed) - 6, len(typed) + 1):  # typing the last word one character at a time
        result = retrieve(index, query(root, "main.py", "python", typed[:end] + "<|>", 40, previous=previous))
        previous = result.keys
        blocks.append(result.block)
    assert len(set(blocks)) <= 2 and "circle_area" in blocks[-1]  # the block changes when the name shows up


def test_open_documents_override_the_disk_and_recent_edits_come_along(workspace):
    root, index = workspace
    open_geometry = outline_text("def circle_area(radius, *, precise=False):\n    pass\n", "python")
    edit = RecentEdit(str(root / "pkg" / "noise.py"), 0, "def unrelated_helper():\n    return 42")
    result = retrieve(index, query(root, "main.py", "python", "print(circle_area(<|>", 200,
                                   open_outlines={str(root / "pkg" / "geometry.py"): open_geometry}, recent=[edit]))
    assert "def circle_area(radius, *, precise=False): ..." in result.block
    assert "def circle_area(radius: float)" not in result.block
    assert "    return 42" in result.block and "# pkg/noise.py" in result.block


def test_the_documents_own_definitions_are_not_retrieved(workspace):
    root, index = workspace
    result = retrieve(index, query(root, "pkg/geometry.py", "python", "x = circle_area(<|>"))
    assert "circle_area" not in result.names
