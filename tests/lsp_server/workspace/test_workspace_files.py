"""Which files get indexed: .gitignore (nested, negated), excluded folders, globs, size, binaries, symlinks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ws_helpers import indexed, make_tree, relative_files

from lsp_server.workspace.files import MAX_FILE_BYTES

CASES = [  # (files, exclude globs, the relative paths indexed)
    ({"a.py": "x = 1\n", "notes.txt": "hi", "b.ts": "const y = 2;\n"}, (), {"a.py", "b.ts"}),
    ({".gitignore": "gen/\n*.tmp.py\n", "gen/g.py": "", "keep.py": "", "x.tmp.py": ""}, (), {"keep.py"}),
    ({".gitignore": "*.py\n!keep.py\n", "drop.py": "", "keep.py": ""}, (), {"keep.py"}),
    ({"sub/.gitignore": "local.py\n", "sub/local.py": "", "sub/kept.py": "", "local.py": ""}, (),
     {"sub/kept.py", "local.py"}),
    ({"node_modules/m/index.js": "", ".venv/lib/x.py": "", "venv/y.py": "", "build/b.py": "", "dist/d.js": "",
      "__pycache__/c.py": "", "target/t.rs": "", "vendor/v.go": "", ".git/hooks/h.py": "", "src/ok.rs": ""}, (),
     {"src/ok.rs"}),
    ({"app.min.js": "", "api_pb2.py": "", "svc.pb.go": "", "main.go": "package main\n"}, (), {"main.go"}),
    ({"docs/conf.py": "", "src/a.py": "", "src/a_generated.py": ""}, ("docs/", "*_generated.py"), {"src/a.py"}),
    ({"big.py": "x = 1\n" * (MAX_FILE_BYTES // 6 + 1), "small.py": "x = 1\n"}, (), {"small.py"}),
    ({"blob.py": b"\x00\x01binary", "text.py": "x = 1\n"}, (), {"text.py"}),
]


@pytest.mark.parametrize("files, exclude, expected", CASES)
def test_indexed_files(tmp_path, files, exclude, expected):
    root = make_tree(tmp_path / "ws", files)
    assert relative_files(indexed(root, exclude), root) == expected


def test_symlinks_out_of_the_workspace_are_not_followed(tmp_path):
    outside = make_tree(tmp_path / "outside", {"secret.py": "def leaked(): pass\n", "lib/deep.py": "X = 1\n"})
    root = make_tree(tmp_path / "ws", {"src/own.py": "def own(): pass\n"})
    os.symlink(outside / "secret.py", root / "src" / "linked.py")
    os.symlink(outside / "lib", root / "lib")
    os.symlink(root / "src", root / "again")  # inside, a second way to the same folder
    os.symlink(root, root / "src" / "loop")  # a cycle
    index = indexed(root)
    assert relative_files(index, root) == {"src/own.py"} or relative_files(index, root) == {"again/own.py"}
    assert "leaked" not in index.by_name and "X" not in index.by_name
    assert index.update(str(root / "src" / "linked.py")) is False  # the watcher's path refuses it too


@pytest.mark.parametrize("target", ["{outside}/secret.py", "{root}/../outside/secret.py", "{root}/src/linked.py",
                                    "{root}/src/../../outside/secret.py", "/etc/passwd"])
def test_nothing_outside_the_workspace_is_read(tmp_path, monkeypatch, target):
    """SECURITY.md: whatever path reaches the index (a watcher event, a walk), no byte outside is read."""
    outside = make_tree(tmp_path / "outside", {"secret.py": "def leaked(): pass\n"})
    root = make_tree(tmp_path / "ws", {"src/own.py": "def own(): pass\n"})
    os.symlink(outside / "secret.py", root / "src" / "linked.py")
    index = indexed(root)
    read = []
    for method in ("read_bytes", "read_text"):
        real = getattr(Path, method)
        monkeypatch.setattr(Path, method, lambda self, *a, _real=real, **k: (read.append(str(self)), _real(self, *a, **k))[1])
    path = target.format(outside=outside, root=root)
    assert index.update(path) is False
    assert "leaked" not in index.by_name
    assert not [p for p in read if "outside" in p or p == "/etc/passwd"], read
    assert index.update(str(root / "src" / "own.py")) and read[-1].endswith("own.py")  # reads are seen
