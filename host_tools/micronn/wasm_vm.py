"""MicroPython's webassembly port under node: a 32-bit VM (31-bit small ints, 4-byte words,
16-byte GC blocks) beside the 64-bit unix port, to run the device package as a 32-bit board
would and to measure its heap.

The VM is the npm package @micropython/micropython-webassembly-pyscript, installed by
`make wasm-vm` into build/wasm (pinned by tools/wasm/package-lock.json), or found at
$MICRONN_WASM_VM (the folder of its micropython.mjs). wasm_vm.mjs, beside this file, runs one
script on it as `micropython -X heapsize=N SCRIPT ARGS` runs on the unix port.

Its heap grows past the heap size it is given (it adds heap areas, up to 128 MiB more), so it
measures peaks (gc.mem_alloc) but cannot run out of memory as a board would; it runs no native
code (no viper, no natmod), and with ulab=True it is the port's ulab build.
"""

import json
import os
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

from micronn.resources import _REPO_ROOT

PACKAGE = "@micropython/micropython-webassembly-pyscript"
VM_ENV = "MICRONN_WASM_VM"
BUILD_FOLDER = _REPO_ROOT / "build" / "wasm" / "node_modules" / PACKAGE
RUNNER = Path(__file__).resolve().parent / "wasm_vm.mjs"
TIMEOUT_SECONDS = 900
PROBE_TIMEOUT = 60


def find_node() -> str:
    found = shutil.which("node")
    if found is None:
        raise FileNotFoundError("node not found; install Node.js (apt-get install nodejs npm)")
    return found


def find_wasm_vm(explicit=None) -> Path:
    """The folder of the port's micropython.mjs: argument, $MICRONN_WASM_VM, build/wasm."""
    for candidate in (explicit, os.environ.get(VM_ENV)):
        if candidate:
            folder = Path(candidate)
            folder = folder.parent if folder.suffix == ".mjs" else folder
            if not (folder / "micropython.mjs").is_file():
                raise FileNotFoundError(f"no micropython.mjs in {folder} (${VM_ENV})")
            return folder
    if (BUILD_FOLDER / "micropython.mjs").is_file():
        return BUILD_FOLDER
    raise FileNotFoundError(
        f"the webassembly MicroPython VM is not installed; run `make wasm-vm` in the micronn "
        f"checkout, or set ${VM_ENV} to the folder of {PACKAGE}'s micropython.mjs"
    )


def available() -> bool:
    """True when node and the VM are both here."""
    try:
        find_node()
        find_wasm_vm()
    except FileNotFoundError:
        return False
    return True


def run(
    script, args=(), *, cwd, path=(), heap=256 * 1024, ulab=False, vm=None, timeout=None, romfs=None
):
    """Run `script` (a file) on the VM in `cwd` with `path` folders importable; returns the
    finished process (returncode, stdout, stderr text). Files the script writes in cwd are
    written to the host's cwd when it ends. romfs: None, or the file of a ROMFS image that the
    port mounts at /rom as a board's firmware does (outside the GC heap, /rom and /rom/lib on
    sys.path ahead of `path`)."""
    spec = {
        "vm": str(find_wasm_vm(vm)),
        "heap": int(heap),
        "ulab": bool(ulab),
        "cwd": str(Path(cwd).resolve()),
        "path": [str(Path(p).resolve()) for p in path],
        "script": str(Path(script).resolve()),
        "argv": [str(a) for a in args],
        "romfs": None if romfs is None else str(Path(romfs).resolve()),
    }
    return subprocess.run(
        [find_node(), str(RUNNER), json.dumps(spec)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS if timeout is None else timeout,
        check=False,
    )


@cache
def mpy_value(vm=None) -> int:
    """The VM's sys.implementation._mpy (its .mpy version; no native arch)."""
    with tempfile.TemporaryDirectory(prefix="micronn-wasm-") as scratch:
        probe = Path(scratch) / "probe.py"
        probe.write_text("import sys\nprint(sys.implementation._mpy)\n")
        done = run(probe, cwd=scratch, vm=vm, timeout=PROBE_TIMEOUT)
    if done.returncode != 0:
        raise RuntimeError(f"the webassembly VM did not start: {done.stderr.strip()}")
    return int(done.stdout.strip())
