"""Held-out cursors: which lines are eligible, deterministic draws from the held-out packages only, and
the model-corpus check."""

from __future__ import annotations

import gzip
import hashlib
import importlib.metadata as md
import json

import pytest

from benchmarks import heldout_cursors as hc
from engine.train.corpus import HELD_OUT_PACKAGES
from engine.weights.default_model import ASSETS

SOURCE = '''\
import os
X = compute_something(1, 2, 3)


def f(a, b):
    """Docstring line one.

    more docstring
    """
    # a comment-only line
    total = a + b  # trailing comment
    result = os.path.join(a, b)
    name = f"{a}-{b:>{width}}" + suffix
    text = """first
    inside a string
    """

    x = 1
    return result.removesuffix("x")
'''

# (the line's text, eligible, line-start column, mid-line boundaries)
CASES = [
    ("X = compute_something(1, 2, 3)", False, None, None),  # module level, not a function body
    ("    more docstring", False, None, None),
    ("    # a comment-only line", False, None, None),
    ("    total = a + b  # trailing comment", False, None, None),
    ("    result = os.path.join(a, b)", True, 4, (11, 13, 15, 16, 20, 21, 25, 26, 27)),  # not "b)" nor ")"
    ('    name = f"{a}-{b:>{width}}" + suffix', True, 4, (9, 11, 31, 33)),  # nothing inside the f-string
    ('    text = """first', True, 4, (9, 11)),  # a string's first line is code
    ("    inside a string", False, None, None),
    ("    x = 1", False, None, None),  # 5 characters: shorter than MIN_LINE
    ('    return result.removesuffix("x")', True, 4, (11, 17, 18, 30, 31)),
]


@pytest.mark.parametrize("line, eligible, indent, boundaries", CASES)
def test_line_sites(line, eligible, indent, boundaries):
    number = SOURCE.split("\n").index(line) + 1
    sites = {site.line: site for site in hc.line_sites(SOURCE)}
    assert (number in sites) == eligible
    if eligible:
        assert (sites[number].indent, sites[number].boundaries) == (indent, boundaries)


def test_a_file_that_does_not_parse_has_no_sites():
    assert hc.line_sites("def f(:\n    return 1\n") == []


@pytest.fixture(scope="module")
def sources():
    found = hc.package_sources()
    if not found:
        pytest.skip("none of the held-out packages is installed")
    return found


@pytest.fixture(scope="module")
def cursors(sources):
    return hc.select_cursors(12, seed=0, sources=sources)


def test_sources_are_the_installed_held_out_packages(sources):
    assert set(sources) <= HELD_OUT_PACKAGES
    for name, (version, files) in sources.items():
        assert version == md.version(name)
        recorded = {str(f) for f in md.distribution(name).files}
        assert files and all(rel in recorded and rel.endswith(".py") for rel, _ in files)


def test_cursors_are_deterministic_and_spread_evenly(sources, cursors):
    assert hc.select_cursors(12, seed=0, sources=sources) == cursors
    assert hc.select_cursors(12, seed=1, sources=sources) != cursors
    per_package = {name: [c for c in cursors if c.package == name] for name in sources}
    assert {len(group) for group in per_package.values()} == {12 // len(sources)}
    for group in per_package.values():
        kinds = [c.kind for c in group]
        assert abs(kinds.count("line-start") - kinds.count("mid-line")) <= 1
    assert len({c.cursor_id for c in cursors}) == len(cursors)


def test_the_target_is_the_rest_of_the_line(sources, cursors):
    for cursor in cursors:
        rel_to_path = dict(sources[cursor.package][1])
        text = rel_to_path[cursor.file].read_text(encoding="utf-8")
        assert cursor.prefix + cursor.target + cursor.suffix == text
        assert "\n" not in cursor.target and cursor.target.strip()
        assert cursor.suffix.startswith("\n") or cursor.suffix == ""
        line_start = cursor.prefix.rsplit("\n", 1)[-1]
        assert cursor.prefix.count("\n") + 1 == cursor.line and len(line_start) == cursor.column
        if cursor.kind == "line-start":
            assert not line_start.strip() and not cursor.target[0].isspace()
        else:
            assert line_start.strip() and len(cursor.target.strip()) >= hc.MIN_MID_TARGET


def test_a_missing_package_is_left_out_and_named(sources):
    name = sorted(sources)[0]
    only = {name: sources[name]}
    assert {c.package for c in hc.select_cursors(4, sources=only)} == {name}
    record = hc.selection_record(4, 0, only)
    assert record["packages"] == {name: sources[name][0]}
    assert record["missing_packages"] == sorted(HELD_OUT_PACKAGES - {name})
    with pytest.raises(ValueError, match="held-out packages"):
        hc.select_cursors(4, sources={})


def test_files_in_corpus_by_path_or_digest(tmp_path, sources):
    files = [pair for _, group in sources.values() for pair in group]
    (by_path, _), (other, by_digest) = files[0], files[1]
    rows = [{"path": f"site-packages-2/{by_path}", "sha256": "0" * 64},
            {"path": "elsewhere/renamed.py", "sha256": hashlib.sha256(by_digest.read_bytes()).hexdigest()}]
    manifest = tmp_path / "corpus_manifest.json.gz"
    manifest.write_bytes(gzip.compress(json.dumps({"files": rows}).encode()))
    assert hc.files_in_corpus(sources, manifest) == {by_path, other}
    assert hc.files_in_corpus(sources, None) is None


def test_find_manifest(tmp_path):
    tiny = ASSETS / "stipple-tiny"
    assert hc.find_manifest("stipple-tiny", tiny) == tiny / "corpus_manifest.json.gz"
    cached = tmp_path / "smollm2-dllm-0123456789abcdef"  # a shipped adapter merged into the cache
    assert hc.find_manifest("smollm2-dllm", cached) == ASSETS / "smollm2-dllm" / "corpus_manifest.json.gz"
    assert hc.find_manifest(None, tmp_path / "smollm2-base-0123456789abcdef") is None
