"""The cross-file benchmark: cursors use a name another module defines; retrieval-only runs write a report."""

from __future__ import annotations

import json

import pytest

from benchmarks import crossfile
from benchmarks.heldout_cursors import package_sources
from lsp_server.workspace.service import WorkspaceService


def test_cursors_use_names_defined_in_another_module(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "geometry.py").write_text("def circle_area(radius):\n    return radius\n")
    (tmp_path / "pkg" / "main.py").write_text(
        "from pkg.geometry import circle_area\n\n\ndef run(r):\n    total = circle_area(r) + 1\n"
        "    local_only(total)\n    return total\n\n\ndef local_only(x):\n    return x\n")
    service = WorkspaceService()
    service.configure([str(tmp_path)])
    service.index.scan()
    copies = {"pkg/geometry.py": tmp_path / "pkg" / "geometry.py", "pkg/main.py": tmp_path / "pkg" / "main.py"}
    cursors = crossfile.find_cursors("pkg", copies, service.index)
    assert [(c.file, c.line, c.column, c.use, c.name, c.target) for c in cursors] == [
        ("pkg/main.py", 5, 12, "call", "circle_area", "circle_area(r) + 1")]
    doc, offset = crossfile.document_for(copies["pkg/main.py"], cursors[0])
    assert doc.text.split("\n")[4] == "    total = " and doc.text[:offset].endswith("total = ")


@pytest.mark.skipif(not package_sources(), reason="no held-out package installed")
def test_retrieval_only_report(tmp_path):
    output = tmp_path / "report.json"
    assert crossfile.main(["--retrieval-only", "--n", "6", "--quiet", "--output", str(output)]) == 0
    report = json.loads(output.read_text())
    assert report["summary"]["n"] == len(report["rows"]) > 0 and report["summary"]["retrieval_p50_ms"] > 0
    assert all(row["target"].startswith(row["name"]) for row in report["rows"])
    assert set(report["packages"]) == set(package_sources())
