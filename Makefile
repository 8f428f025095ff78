# The front door. Every target makes (or reuses) the local virtual environment itself, so on a
# fresh machine with only Python 3.11+ `make demo` and `make test` do all the set-up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help venv test test-floors lint demo bench soak clean

help:
	@echo "make demo    run the example app with simulated traffic, a rollup and a report"
	@echo "make test    lint + the whole test suite (browser tests included)"
	@echo "make lint    ruff (lint and format check) + mypy --strict"
	@echo "make bench   benchmarks (ratios measured in one run)"
	@echo "make soak    the long load test"
	@echo "make test-floors  the fast tests against the lowest dependency versions allowed"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@# The fuzzer is optional (its newest releases ship no wheel): fuzz tests skip without it.
	$(BIN)/python -m pip install -q --only-binary :all: 'atheris>=3.0' \
		|| echo "atheris has no wheel here: the atheris runs of the fuzz tests will skip"
	touch $(STAMP)

venv: $(STAMP)

lint: venv
	$(BIN)/ruff check cookiewall analytics tests examples bench fuzz
	$(BIN)/ruff format --check cookiewall analytics tests examples bench fuzz
	$(BIN)/mypy cookiewall analytics bench examples tests fuzz

test: venv
	@bash scripts/ensure-chromium
	@bash scripts/ensure-nginx
	$(MAKE) --no-print-directory lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

demo: venv
	$(BIN)/python -m examples.demo $(if $(SERVE),--serve,)

bench: venv
	@bash scripts/ensure-bench-tools
	$(BIN)/python -m bench $(BENCH_ARGS)

# Not part of `make test` or CI: its own venv of the lowest versions pyproject.toml allows.
test-floors:
	bash tools/test-floors.sh $(PYTEST_ARGS)

soak: venv
	$(BIN)/python -m pytest -m slow tests/test_load.py $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
