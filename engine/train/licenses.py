"""Licences and ownership: which distribution a file of the corpus belongs to, under which licence,
and whether that licence is permissive (engine/train/corpus.py keeps only those)."""

from __future__ import annotations

import importlib.metadata as md
import os
import re
from dataclasses import dataclass
from pathlib import Path

STDLIB_PACKAGE, STDLIB_LICENSE = "python-stdlib", "PSF-2.0"

# License families; MPL is file-level copyleft so it is deliberately not permissive.
_LICENSE_FAMILIES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p, re.IGNORECASE), name)
    for p, name in [
        (r"\bagpl|affero", "AGPL"), (r"\blgpl|lesser general", "LGPL"), (r"\bgpl|general public", "GPL"),
        (r"\bmpl\b|mozilla", "MPL-2.0"), (r"\bepl\b|eclipse", "EPL"), (r"\bapache", "Apache-2.0"),
        (r"\bunlicense\b", "Unlicense"), (r"\bmit\b|\bexpat\b", "MIT"), (r"0bsd", "0BSD"), (r"\bbsd", "BSD"),
        (r"\bpsf|python software foundation|python-2\.0", "PSF-2.0"), (r"\bisc\b", "ISC"),
        (r"\bzlib\b", "Zlib"), (r"\bcc0|public domain", "CC0-1.0"), (r"\bhpnd\b", "HPND"),
        (r"\bbsl\b|boost", "BSL-1.0"), (r"\bcnri", "CNRI-Python"),
    ]
]
PERMISSIVE = frozenset({"MIT", "BSD", "0BSD", "Apache-2.0", "PSF-2.0", "ISC", "Unlicense", "Zlib", "CC0-1.0", "HPND",
                        "BSL-1.0", "CNRI-Python"})
# Full license texts often land in the License field; these sentences identify them.
_LICENSE_TEXT_HINTS = [
    ("Permission is hereby granted, free of charge", "MIT"),
    ("Redistribution and use in source and binary forms", "BSD"),
    ("Apache License", "Apache-2.0"),
    ("GNU GENERAL PUBLIC LICENSE", "GPL"),
    ("GNU LESSER GENERAL PUBLIC LICENSE", "LGPL"),
    ("Mozilla Public License", "MPL-2.0"),
]

@dataclass(frozen=True)
class Owner:
    """Who a file belongs to and under which license."""

    package: str
    license: str | None  # normalised expression; None when unknown


def classify_license(expr: str) -> tuple[str | None, bool]:
    """Normalise an SPDX-ish expression; returns (label, permissive). Any permissive OR-branch suffices."""
    expr = re.sub(r"\s+or\s+(any\s+)?later(\s+version)?", "+", expr, flags=re.IGNORECASE)
    expr = re.sub(r"\s+or\s+(any\s+)?later(\s+version)?", "+", expr, flags=re.IGNORECASE)
    branches = []
    for alt in re.split(r"\s+or\s+|/", expr.replace("(", " ").replace(")", " "), flags=re.IGNORECASE):
        parts = [re.split(r"\s+with\s+", p, flags=re.IGNORECASE)[0] for p in re.split(r"\s+and\s+|,", alt, flags=re.I)]
        fams = [next((n for rx, n in _LICENSE_FAMILIES if rx.search(p)), None) for p in parts if p.strip()]
        if fams:
            branches.append(fams)
    if not branches or any(f is None for b in branches for f in b):
        return None, False
    label = " OR ".join(" AND ".join(dict.fromkeys(b)) for b in branches)
    return label, any(all(f in PERMISSIVE for f in b) for b in branches)


def dist_license(dist: md.Distribution) -> str | None:
    meta = dist.metadata
    if expr := (meta.get("License-Expression") or "").strip():
        return classify_license(expr)[0]
    classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    classifiers = [c for c in classifiers if c not in ("OSI Approved", "DFSG approved")]
    if classifiers:  # several classifiers are treated as AND: conservative for mixed licensing
        return classify_license(" AND ".join(classifiers))[0]
    texts = [(meta.get("License") or "").strip()]
    for f in dist.files or []:
        if ".dist-info" in str(f) and re.match(r"(?i)(license|copying)", f.name):
            try:
                texts.append(f.read_text(encoding="utf-8")[:4000])
            except (OSError, UnicodeDecodeError):
                pass
    for text in texts:
        for hint, fam in _LICENSE_TEXT_HINTS:
            if hint.lower() in text.lower():
                return fam
        if text and text.upper() != "UNKNOWN" and len(text) < 200:
            if label := classify_license(text)[0]:
                return label
    return None


def index_root(root: Path) -> tuple[dict[str, Owner], dict[str, Owner]]:
    """Map file paths (and top-level names, as a fallback) under a site-packages root to their distribution."""
    by_file: dict[str, Owner] = {}
    by_top: dict[str, Owner] = {}
    for dist in md.distributions(path=[str(root)]):
        name = dist.metadata.get("Name") or "unknown"
        owner = Owner(name, dist_license(dist))
        for f in dist.files or []:
            if str(f).endswith(".py"):
                by_file[os.path.normpath(root / f)] = owner
                by_top.setdefault(f.parts[0].removesuffix(".py"), owner)
        for top in (dist.read_text("top_level.txt") or "").split():
            by_top.setdefault(top, owner)
    return by_file, by_top


def owner_of(path: Path, root: Path, stdlib: Path, index: tuple[dict[str, Owner], dict[str, Owner]]) -> Owner:
    if path.is_relative_to(stdlib) and not {"site-packages", "dist-packages"} & set(path.parts):
        return Owner(STDLIB_PACKAGE, STDLIB_LICENSE)
    by_file, by_top = index
    top = path.relative_to(root).parts[0].removesuffix(".py")
    return by_file.get(os.path.normpath(path)) or by_top.get(top) or Owner("unknown", None)
