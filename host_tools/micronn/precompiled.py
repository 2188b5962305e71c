"""The device package precompiled to .mpy for the MicroPython VM, as `micronn flash` puts it on
a board: importing .mpy files needs no compiler heap, and their code is smaller than a parse.
`micronn simulate` runs it by default, so that the VM's heap holds what a board's would.

The files are built once per process (runtime.build_runtime, for the VM's own .mpy version and
native arch) into a temporary folder that is removed when the process ends. mpy-cross writes
the same bytes for every arch into a module without native code, so these are the board's own
files, except the viper modules: their machine code is the VM's (x64) instead of the board's
(xtensawin, armv6m, ...), which the VM could not execute.
"""

import atexit
import shutil
import subprocess
import tempfile
from pathlib import Path

from micronn.runtime import RUNTIME_DIR, build_runtime, decode_mpy, plan_runtime

_FOLDERS = {}  # runtime stamp -> folder holding micronn/*.mpy
PROBE_TIMEOUT = 30


def vm_mpy_target(executable: str):
    """The MpyTarget of a MicroPython executable (its sys.implementation._mpy)."""
    done = subprocess.run(
        [executable, "-c", "import sys; print(sys.implementation._mpy)"],
        capture_output=True,
        text=True,
        timeout=PROBE_TIMEOUT,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{executable} did not say its .mpy version: {done.stderr.strip()}")
    return decode_mpy(int(done.stdout.strip()))


def precompiled_package(executable: str) -> Path:
    """A folder to put on MICROPYPATH: micronn/ with every module compiled for the VM (a module
    mpy-cross cannot compile stays .py, as on a board)."""
    return package_for_target(vm_mpy_target(executable))


def package_for_target(target) -> Path:
    """precompiled_package for an MpyTarget (e.g. the webassembly VM's: bytecode only)."""
    plan = plan_runtime(target)
    if plan.stamp not in _FOLDERS:
        folder = Path(tempfile.mkdtemp(prefix="micronn-mpy-"))
        atexit.register(shutil.rmtree, folder, True)
        package = folder / "micronn"
        package.mkdir()
        for path, data in build_runtime(plan).items():
            if path.startswith(RUNTIME_DIR + "/"):
                (package / path[len(RUNTIME_DIR) + 1 :]).write_bytes(data)
        _FOLDERS[plan.stamp] = folder
    return _FOLDERS[plan.stamp]
