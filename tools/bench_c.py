"""`make bench-c`: the _micronn C backend against pure MicroPython, and its binding overhead.

For a 256 x 256 int8 FULLY_CONNECTED model: microseconds per predict on the VM with the
"python" backend (the PyPI VM) and the "c" backend (a VM with _micronn: $MICRONN_MICROPYTHON,
or the PyPI VM plus the x64 natmod when $MPY_DIR is set); the same kernel called natively from
C (gcc -Os, as firmware builds it) against _micronn.fully_connected called from the VM. Then the
armv6m (-Os) code size of each kernel file. Sections whose tools are missing say so and skip.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from micronn import container
from micronn.model import FullyConnected, Model, TensorSpec
from micronn.simulate import find_micropython

ROOT = Path(__file__).resolve().parents[1]
KERNELS = ROOT / "ulab_ext" / "kernels"
FIRMWARE = ROOT / "firmware"
WIDTH = 256

VM_SCRIPT = """
import time, micronn
from array import array


def per_call(function, calls):
    function()
    start = time.ticks_us()
    for _ in range(calls):
        function()
    return time.ticks_diff(time.ticks_us(), start) / calls


net = micronn.load("fc.mnq", backend={backend!r})
x = array("b", bytes({width}))
out = array("b", bytes({width}))
print("predict", per_call(lambda: net.predict(x, out), {calls}))
run, plan, a, b, y = net._plan[0]
print("layer", per_call(lambda: run(plan, a, b, y), {calls}))
if {backend!r} == "c":
    f, params, bits, w, bias, m, s = plan
    print("call", per_call(lambda: f(params, bits, w, bias, m, s, a, y), {calls}))
"""


def write_model(folder: Path) -> None:
    rng = np.random.default_rng(0)
    layer = FullyConnected(
        weights=rng.integers(-127, 128, size=(WIDTH, WIDTH)),
        bias=rng.integers(-1000, 1000, size=WIDTH),
        multiplier=[1 << 30],
        shift=[-8],
        input_zero_point=0,
        output_zero_point=0,
        act_min=-128,
        act_max=127,
    )
    model = Model(TensorSpec((WIDTH,), 0.1, 0), TensorSpec((WIDTH,), 0.1, 0), [layer])
    (folder / "fc.mnq").write_bytes(container.write(model))


def vm_times(executable, folder, backend, calls, micropypath) -> dict:
    script = VM_SCRIPT.format(backend=backend, width=WIDTH, calls=calls)
    (folder / "bench.py").write_text(script)
    done = subprocess.run(
        [executable, "-X", "heapsize=4M", "bench.py"],
        cwd=folder,
        env=dict(os.environ, MICROPYPATH=micropypath),
        capture_output=True,
        text=True,
        check=True,
    )
    return {line.split()[0]: float(line.split()[1]) for line in done.stdout.splitlines()}


def c_backend_vm(folder: Path):
    """(executable, MICROPYPATH) of a VM that has _micronn, or (None, reason)."""
    custom = os.environ.get("MICRONN_MICROPYTHON")
    if custom:
        return find_micropython(custom), str(FIRMWARE)
    mpy_dir = os.environ.get("MPY_DIR")
    if not mpy_dir:
        return None, "set MICRONN_MICROPYTHON (a VM with _micronn) or MPY_DIR (to build the natmod)"
    out = folder / "natmod"
    subprocess.run(
        ["make", "-C", str(ROOT), "natmod", "ARCH=x64", f"MPY_DIR={mpy_dir}"]
        + [f"NATMOD_PYTHON={sys.executable}", f"NATMOD_OUT={out}"],
        check=True,
        capture_output=True,
    )
    return find_micropython(), f"{FIRMWARE}:{out}"


def native_call_us(folder: Path):
    if shutil.which("gcc") is None:
        return None
    binary = folder / "native_dense"
    sources = [ROOT / "tools" / "bench_c" / "native_dense.c", *KERNELS.glob("*.c")]
    command = ["gcc", "-std=c99", "-Os", "-I", str(KERNELS), *map(str, sources), "-o", str(binary)]
    subprocess.run(command, check=True, capture_output=True)
    return float(subprocess.run([binary], check=True, capture_output=True, text=True).stdout)


def armv6m_sizes(folder: Path):
    if shutil.which("arm-none-eabi-gcc") is None or shutil.which("arm-none-eabi-size") is None:
        return None
    objects = []
    for source in sorted(KERNELS.glob("*.c")):
        target = folder / f"{source.stem}.o"
        subprocess.run(
            ["arm-none-eabi-gcc", "-mcpu=cortex-m0plus", "-mthumb", "-Os", "-std=c99"]
            + ["-ffunction-sections", "-c", str(source), "-o", str(target)],
            check=True,
            capture_output=True,
        )
        objects.append(str(target))
    done = subprocess.run(
        ["arm-none-eabi-size", *objects], check=True, capture_output=True, text=True
    )
    sizes = {}
    for line in done.stdout.splitlines()[1:]:
        text, data, _bss, _dec, _hex, name = line.split()
        sizes[Path(name).stem] = int(text) + int(data)
    return sizes


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="micronn-bench-c-") as scratch:
        folder = Path(scratch)
        write_model(folder)
        python = vm_times(find_micropython(), folder, "python", 5, str(FIRMWARE))
        print(f"{WIDTH}x{WIDTH} FULLY_CONNECTED, int8, on the VM (layer run / whole predict):")
        print(f"  backend python   {python['layer']:10.1f} us / {python['predict']:10.1f} us")
        executable, where = c_backend_vm(folder)
        if executable is None:
            print(f"  backend c        skipped: {where}")
        else:
            c = vm_times(executable, folder, "c", 2000, where)
            print(
                f"  backend c        {c['layer']:10.1f} us / {c['predict']:10.1f} us   "
                f"({python['layer'] / c['layer']:.0f}x / {python['predict'] / c['predict']:.0f}x "
                "faster)"
            )
            native = native_call_us(folder)
            if native is not None:
                overhead = 100.0 * (c["call"] - native) / native
                print(f"  kernel via VM    {c['call']:10.1f} us   (_micronn.fully_connected)")
                print(f"  kernel native    {native:10.1f} us   (C, gcc -Os)")
                print(f"  binding overhead {overhead:10.1f} %")
        sizes = armv6m_sizes(folder)
        if sizes is None:
            print("armv6m code size: skipped (apt-get install gcc-arm-none-eabi)")
        else:
            listed = ", ".join(f"{name} {size}" for name, size in sizes.items())
            print(f"armv6m -Os code size (bytes): {listed}; total {sum(sizes.values())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
