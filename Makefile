# balis: `make run` starts the demo test bed and searches it; `make test` runs the whole suite.
# Both install what they need first (Debian packages as root, a .venv, the project).
# `make bench` measures the connectors (docs/benchmarks.md); `make bench BENCH_ARGS=--quick` is a short run.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
QUERY  ?= 中国
BENCH_ARGS ?=

.PHONY: run test bench lint deps install clean testbed-down

run: install
	$(BIN)/balis testbed up
	$(BIN)/balis members
	@echo
	@echo "== sample federated search: $(QUERY)"
	$(BIN)/balis search --max 3 "$(QUERY)"
	@echo
	@echo "The test bed keeps running; stop it with: $(BIN)/balis testbed down"

test: install
	$(BIN)/ruff check .
	$(BIN)/pytest -q

bench: install
	$(BIN)/python benchmarks/connectors.py $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check .

deps:
	@bash scripts/install-system.sh

install: deps $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

testbed-down:
	-$(BIN)/balis testbed down

clean: testbed-down
	rm -rf $(VENV) var .pytest_cache .ruff_cache .hypothesis
