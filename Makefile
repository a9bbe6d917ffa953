# The README's commands. `make demo` runs a real panel on the embedded model; `make test` runs the suite.
# `make test-fast` leaves out the tests marked slow (the real embedded model, subprocesses, Chromium).
# Both run `ruff check` first (pyproject.toml's rule set).
PY ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

# llama.cpp is compiled for this CPU (-march=native). On x86-64 its AMX kernels are left out: on an
# AMX CPU (these machines have one) ggml_backend_amx_mul_mat segfaulted both panel's batched decodes
# and llama-cpp-python's own server. GCC drops AMX only when all three flags are given.
NO_AMX := $(if $(filter x86_64,$(shell uname -m)),-mno-amx-tile -mno-amx-int8 -mno-amx-bf16)

$(BIN)/panel: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	CFLAGS="$(NO_AMX)" CXXFLAGS="$(NO_AMX)" CMAKE_ARGS="$${CMAKE_ARGS:--DLLAVA_BUILD=OFF}" \
		$(BIN)/pip install -q -e '.[test]'
	touch $(BIN)/panel

install: $(BIN)/panel

# The real flow: review (drafts) → publish (sign-off) → compare (over the published panels) → site.
demo: install
	$(BIN)/panel review smollm3 mistral-small-3-1
	$(BIN)/panel publish smollm3 mistral-small-3-1 --note "make demo"
	$(BIN)/panel compare smollm3 mistral-small-3-1
	$(BIN)/panel site

lint: install
	$(BIN)/ruff check src tests bench

test: lint
	$(BIN)/pytest

test-fast: lint
	$(BIN)/pytest -m "not slow"

# Measure the default personas' calibrations on the bundled model again (after editing a shipped
# persona): panel/models/local/calibrations.json.
calibrations: install
	$(BIN)/python -c "from panel.models.local import get_model, shipped; d = shipped.write(get_model('smollm2')); \
		print(len(d['calibrations']), 'calibrations for', d['gguf'])"

bench: install
	$(BIN)/python bench/run_all.py

# The labelled set and its pairs on the embedded default (bench/bench_quality.py): about 40 minutes
# on two cores, so apart from `make bench`, which stays under ten.
bench-quality: install
	$(BIN)/python bench/bench_quality.py

.PHONY: install lint demo test test-fast bench bench-quality
