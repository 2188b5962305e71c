"""Run a script on the real MicroPython VM (unix port) with the device package importable.

Device tests batch many cases into one script so that the suite launches few VM processes.
"""

import os
import subprocess
import tempfile
from pathlib import Path

from micronn.simulate import find_micropython

FIRMWARE = Path(__file__).resolve().parents[1] / "firmware"
DEFAULT_HEAP = "256K"
TIMEOUT_SECONDS = 300


class VMError(AssertionError):
    """The VM exited with an error (traceback in the message)."""


def run(script: str, *, cwd=None, heapsize: str = DEFAULT_HEAP, timeout=TIMEOUT_SECONDS) -> str:
    """Run `script` with `micropython -X heapsize=...` in `cwd`; return its stdout."""
    with tempfile.TemporaryDirectory(prefix="micronn-vm-") as scratch:
        folder = Path(cwd or scratch)
        path = folder / "_vm_script.py"
        path.write_text(script)
        done = subprocess.run(
            [find_micropython(), "-X", f"heapsize={heapsize}", str(path)],
            cwd=folder,
            env=dict(os.environ, MICROPYPATH=f".frozen:{FIRMWARE}"),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    if done.returncode != 0:
        raise VMError(
            f"MicroPython exited with status {done.returncode}\n"
            f"--- stdout (tail) ---\n{done.stdout[-3000:]}\n--- stderr ---\n{done.stderr[-3000:]}"
        )
    return done.stdout
