# qmpnuma: the two README commands (make run, make test) set everything up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint schemas clean bench

# The checkout is installed editable as a path entry (`editable_mode=compat`: one line in a
# .pth), not through setuptools' default import hook, which every Python process of the venv
# would import at start-up with pathlib, urllib.parse and ipaddress (~5 ms of each start).
# setuptools calls that mode transitional (it warns while installing): should a release drop
# it, the install falls back to its default mode, which works the same, ~5 ms slower a start.
EDITABLE := --config-settings editable_mode=compat

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(EDITABLE) -e '.[test]' || \
		$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m qmpnuma.start_bundle
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/qmpnuma demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

# make bench: qmpnuma against the real QEMU 7.2, every figure of the README benchmark section.
BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet $(EDITABLE) -e '.[test,bench]' || \
		$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	command -v qemu-system-x86_64 >/dev/null 2>&1 || \
		{ apt-get update -qq && apt-get install -y -qq qemu-system-x86; }
	command -v valgrind >/dev/null 2>&1 || \
		{ apt-get update -qq && apt-get install -y -qq valgrind; }
	$(BIN)/python -m bench.run --readme README.md

lint: $(STAMP)
	$(BIN)/ruff check qmpnuma tests
	$(BIN)/mypy --strict qmpnuma

schemas: $(STAMP)
	$(BIN)/qmpnuma-qapi tables schemas/qapi-schema.json --profile 10.0 -o qmpnuma/types/tables_10_0.py
	$(BIN)/qmpnuma-qapi tables schemas/qapi-schema.json --profile 7.2 -o qmpnuma/types/tables_7_2.py
	$(BIN)/qmpnuma-qapi tables schemas/qapi-schema.json --profile 2.9 -o qmpnuma/types/tables_2_9.py
	$(BIN)/qmpnuma-qapi gen schemas/qapi-schema.json --profile 10.0 --tables-module qmpnuma.types.tables_10_0 -o qmpnuma/types/qapi_10_0.py
	$(BIN)/qmpnuma-qapi gen schemas/qapi-schema.json --profile 7.2 --tables-module qmpnuma.types.tables_7_2 -o qmpnuma/types/qapi_7_2.py
	$(BIN)/qmpnuma-qapi gen schemas/qapi-schema.json --profile 2.9 --tables-module qmpnuma.types.tables_2_9 -o qmpnuma/types/qapi_2_9.py
	$(BIN)/qmpnuma-qapi introspect schemas/qapi-schema.json --profile 10.0 -o qmpnuma/types/introspect_10_0.json
	$(BIN)/qmpnuma-qapi introspect schemas/qapi-schema.json --profile 7.2 -o qmpnuma/types/introspect_7_2.json
	$(BIN)/qmpnuma-qapi introspect schemas/qapi-schema.json --profile 2.9 -o qmpnuma/types/introspect_2_9.json

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
