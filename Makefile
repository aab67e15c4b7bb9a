# make demo   set up and run the whole pipeline on the bundled sample
# make test   set up and run every test (plus ruff and mypy)
# make bench  set up and run the benchmarks (slow; prints tables)
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_OUT ?= demo-archive

.PHONY: setup setup-bench demo test lint bench docs clean

setup:
	@VENV=$(VENV) sh scripts/bootstrap.sh test

setup-bench:
	@VENV=$(VENV) sh scripts/bootstrap.sh test,bench

demo: setup
	$(BIN)/phonotheque demo --out $(DEMO_OUT)

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

test: setup lint
	$(BIN)/pytest -n 2 -q

bench: setup-bench
	$(BIN)/python bench/run_all.py

docs: setup
	$(BIN)/python scripts/gen_cli_reference.py

clean:
	rm -rf $(DEMO_OUT) .pytest_cache .mypy_cache .ruff_cache
