# The README's commands. `make demo` runs a real panel on the embedded model; `make test` runs the suite.
# `make test-fast` leaves out the tests marked slow (the real embedded model, subprocesses, Chromium).
PY ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

$(BIN)/panel: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	CMAKE_ARGS="$${CMAKE_ARGS:--DLLAVA_BUILD=OFF}" $(BIN)/pip install -q -e '.[test]'
	touch $(BIN)/panel

install: $(BIN)/panel

demo: install
	$(BIN)/panel review smollm3 mistral-small-3-1
	$(BIN)/panel compare smollm3 mistral-small-3-1

test: install
	$(BIN)/pytest

test-fast: install
	$(BIN)/pytest -m "not slow"

bench: install
	$(BIN)/python bench/run_all.py

.PHONY: install demo test test-fast bench
