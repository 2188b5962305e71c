"""Run a script on the real MicroPython VM with the device package importable: the 64-bit
unix port ("unix"), or the 32-bit webassembly port under node ("wasm32", micronn.wasm_vm:
31-bit small ints, 4-byte objects; its gc.collect() waits for the top level, so a script run
there reads no live heap mid-way, and a heap_lock it leaves locked on an exception hangs it).

Device tests batch many cases into one script so that the suite launches few VM processes.
"""

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

from micronn import container, reference, wasm_vm
from micronn.precompiled import precompiled_package
from micronn.simulate import find_micropython

FIRMWARE = Path(__file__).resolve().parents[1] / "firmware"
DEFAULT_HEAP = "256K"
TIMEOUT_SECONDS = 300


class VMError(AssertionError):
    """The VM exited with an error (traceback in the message)."""


VMS = ("unix", "wasm32")
NO_NODE = "node not found: the 32-bit webassembly VM needs Node.js (apt-get install nodejs npm)"


def vm_params(vms=VMS):
    """pytest params of the VMs, wasm32 skipped (saying why) only where node is missing."""
    return [
        pytest.param(
            vm,
            marks=pytest.mark.skipif(vm == "wasm32" and not shutil.which("node"), reason=NO_NODE),
        )
        for vm in vms
    ]


def _package(precompiled: bool):
    """The folder holding the device package on the unix VM: its sources, or its .mpy files."""
    return precompiled_package(find_micropython()) if precompiled else FIRMWARE


def heap_bytes(heapsize: str) -> int:
    """A -X heapsize value ("256K", "2M", "100000") in bytes."""
    scale = {"K": 1 << 10, "M": 1 << 20}.get(heapsize[-1:].upper(), 1)
    return int(heapsize.rstrip("KkMm")) * scale


def run(
    script: str,
    *,
    cwd=None,
    heapsize: str = DEFAULT_HEAP,
    timeout=TIMEOUT_SECONDS,
    vm: str = "unix",
    precompiled: bool = False,
) -> str:
    """Run `script` with `micropython -X heapsize=...` in `cwd` on `vm`; return its stdout.
    precompiled (unix): the package as .mpy files, as `micronn flash` installs it, not its .py
    sources."""
    with tempfile.TemporaryDirectory(prefix="micronn-vm-") as scratch:
        folder = Path(cwd or scratch)
        path = folder / "_vm_script.py"
        path.write_text(script)
        if vm == "wasm32":
            done = wasm_vm.run(
                path, cwd=folder, path=[FIRMWARE], heap=heap_bytes(heapsize), timeout=timeout
            )
        else:
            done = subprocess.run(
                [find_micropython(), "-X", f"heapsize={heapsize}", str(path)],
                cwd=folder,
                env=dict(os.environ, MICROPYPATH=f".frozen:{_package(precompiled)}"),
                capture_output=True,
                text=True,
                timeout=timeout,
            )
    if done.returncode != 0:
        raise VMError(
            f"MicroPython ({vm}) exited with status {done.returncode}\n"
            f"--- stdout (tail) ---\n{done.stdout[-3000:]}\n--- stderr ---\n{done.stderr[-3000:]}"
        )
    return done.stdout


# MicroPython helpers: predict through each kind of buffer it takes; is predict allocation-free?
PREDICT_HELPERS = """
import json
import micropython
from array import array
import micronn


def predict(net, raw, kind):
    if kind == 0:
        return net.predict(raw)
    if kind == 1:
        return net.predict(array("b", raw), array("b", bytes(len(net._result))))
    if kind == 2:
        return net.predict(memoryview(raw), bytearray(len(net._result)))
    return net.predict([v - 256 if v > 127 else v for v in raw])


def allocation_free(net, first):
    x, y = array("b", first), array("b", bytes(len(net._result)))
    micropython.heap_lock()
    try:
        net.predict(x, y)
        net.predict(first)
        return True
    except MemoryError:
        return False
    finally:
        micropython.heap_unlock()
"""

# MicroPython helper: every int8 row of a file through net.predict, the outputs to a file.
PREDICT_FILE = """
from array import array


def predict_file(net, source, target):
    n = len(net._x)
    y = array("b", bytes(len(net._result)))
    with open(source, "rb") as f:
        rows = f.read()
    outputs = bytearray()
    for r in range(len(rows) // n):
        net.predict(rows[r * n:(r + 1) * n], y)
        outputs.extend(bytes(y))
    with open(target, "wb") as f:
        f.write(outputs)
"""

MODELS_SCRIPT = (
    PREDICT_HELPERS
    + """
for index in range({count}):
    net = micronn.load("m%d.mnq" % index)
    n = len(net._x)
    with open("x%d.bin" % index, "rb") as f:
        rows = f.read()
    outputs = bytearray()
    for r in range(len(rows) // n):
        y = predict(net, rows[r * n:(r + 1) * n], r % 4)
        outputs.extend(bytes(y) if type(y) is bytearray else bytes(array("b", y)))
    with open("y%d.bin" % index, "wb") as f:
        f.write(outputs)
    locked = allocation_free(net, rows[:n])
    print(json.dumps([index, len(net._arena), locked]))
"""
)


def run_models(models, inputs, folder, label: str = "", vm: str = "unix") -> list[int]:
    """Run each model on its int8 input rows in one VM process and check it against the reference.

    Rows go through every kind of buffer predict takes (bytes, array, memoryview, list; with and
    without `out`); the outputs must equal reference.run's and predict must allocate nothing under
    heap_lock. Returns the bytes of each loaded model's arena."""
    for index, (model, x) in enumerate(zip(models, inputs, strict=True)):
        (folder / f"m{index}.mnq").write_bytes(container.write(model))
        (folder / f"x{index}.bin").write_bytes(x.tobytes())
    lines = run(MODELS_SCRIPT.format(count=len(models)), cwd=folder, vm=vm).splitlines()
    assert len(lines) == len(models), lines
    arenas = []
    for (index, arena_bytes, locked), model, x in zip(
        map(json.loads, lines), models, inputs, strict=True
    ):
        assert locked, f"model {index}{label}: predict allocated under heap_lock"
        got = np.frombuffer((folder / f"y{index}.bin").read_bytes(), np.int8)
        expected = reference.run(model, x)
        np.testing.assert_array_equal(
            got.reshape(expected.shape), expected, err_msg=f"model {index}{label}"
        )
        arenas.append(arena_bytes)
    return arenas
