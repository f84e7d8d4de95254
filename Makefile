# balis: `make run` starts the demo test bed, harvests it into the local index, loads a year of demo ILL history
# and serves the reader portal;
# `make test` runs the whole suite. Both install what they need first (Debian packages as root, a .venv, the project).
# `make bench` runs every benchmark in benchmarks/ (long: see docs/benchmarks.md); `make bench-NAME` runs one,
# e.g. `make bench-rank` or `make bench-connectors BENCH_ARGS=--quick`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
QUERY  ?= 中国
PORT   ?= 8080
BENCH_ARGS ?=
BENCHES := connectors z3950_ber records_throughput dedup rank fanout harvest index_phase local_search routing ill_store portal fuzz startup

.PHONY: run test bench lint deps install clean testbed-down screenshots

run: install
	$(BIN)/balis testbed up
	$(BIN)/balis members
	@echo
	@echo "== harvest the members into the local index (incremental after the first run)"
	$(BIN)/balis harvest
	@echo
	@echo "== a year of demo ILL history for the statistics (演示数据 demo data: only into this demo store, once)"
	$(BIN)/balis testbed history
	@echo
	@echo "== sample federated search: $(QUERY)"
	$(BIN)/balis search --max 3 "$(QUERY)"
	@echo
	@echo "The test bed keeps running; stop it with: $(BIN)/balis testbed down"
	@echo
	@echo "== demo accounts for the portal (readers, staff, an administrator)"
	$(BIN)/balis request user demo
	@echo
	@echo "== the reader portal (Ctrl-C stops it; PORT=$(PORT))"
	$(BIN)/balis serve --port $(PORT)

test: install
	$(BIN)/ruff check .
	$(BIN)/pytest -q --durations=25  # the slowest tests, to keep the suite within its 20 minutes

screenshots: install
	BALIS_SCREENSHOTS=1 $(BIN)/pytest -q tests/portal -k browser

bench: install
	@for b in $(BENCHES); do echo "== benchmarks/$$b.py"; $(BIN)/python benchmarks/$$b.py || exit 1; done

bench-%: install
	$(BIN)/python benchmarks/$*.py $(BENCH_ARGS)

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
