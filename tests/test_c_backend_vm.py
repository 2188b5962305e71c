"""The device package with backend "c" (the _micronn module) on real MicroPython VMs.

- Always: asking for backend "c" where _micronn is absent (the PyPI VM) is a ValueError that
  says how to install it.
- With MPY_DIR (a MicroPython checkout; pyelftools, and ar for a checkout without
  tools/ar_util.py, importable in this Python): the x64 native module built with `make natmod`
  loads into the PyPI VM and runs models of every operator family bit-exactly, allocation-free,
  and its argument checks survive a fuzzer; copied to a running board it is used without a
  soft reset.
- With MICRONN_MICROPYTHON (a unix port built with ulab and _micronn, docs/building.md): the
  same on that VM, plus ulab ndarrays (dense ones accepted, views refused). The whole device
  suite also runs on it, with "auto" picking "c" (tests/vm.py uses that VM). A VM without
  _micronn (a ulab-only build) skips these, saying so.
"""

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from c_vm_models import (
    C_KERNELS,
    ROWS,
    VM_SCRIPT,
    check_kernels,
    check_outputs,
    check_streamed,
    write_cases,
)
from vm import run

from micronn import container, reference
from micronn.cli import build_parser, main
from micronn.flash import flash
from micronn.remote import describe
from micronn.remote import run as run_on_board
from micronn.romfs import build_image
from micronn.simulate import find_micropython
from micronn.transport_serial import SerialTransport
from micronn.virtual_board import VirtualBoard

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware"
MPY_DIR = os.environ.get("MPY_DIR")
CUSTOM_VM = os.environ.get("MICRONN_MICROPYTHON")
FUZZ_ROUNDS = 3000

FUZZ_SCRIPT = """
import _micronn
from array import array

rng_state = [12345]
def rand(n):
    rng_state[0] = (rng_state[0] * 1103515245 + 12345) & 0x7FFFFFFF
    return rng_state[0] % n

# Every bad argument of this list must raise ValueError, naming the argument.
p = array("i", [4, 2, 0, 0, -128, 127])
w = array("b", [1, 2, 3, 4, -1, -2, -3, -4])
one = array("i", [1 << 30])
zero = array("i", [0])
bias = array("i", [0, 0])
x = array("b", [1, 1, 1, 1])
out = array("b", [0, 0])
f = _micronn.fully_connected
# MUL of two 4-element vectors: dims, strides of a, of b, zero points, multiplier, shift, clamp
mul_params = [1, 1, 1, 4, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1 << 30, 0, -128, 127]
_micronn.mul(array("i", mul_params), x, x, array("b", bytes(4)))
bad = [
    ("x", lambda: f(p, 8, w, bias, one, zero, array("h", [1, 1, 1, 1]), out)),
    ("x", lambda: f(p, 8, w, bias, one, zero, array("f", [1, 1, 1, 1]), out)),
    ("x", lambda: f(p, 8, w, bias, one, zero, bytearray(3), out)),
    ("x", lambda: f(p, 8, w, bias, one, zero, None, out)),
    ("out", lambda: f(p, 8, w, bias, one, zero, x, b"12")),
    ("out", lambda: f(p, 8, w, bias, one, zero, x, bytearray(3))),
    ("params", lambda: f(array("b", [4, 2, 0, 0, 0, 0]), 8, w, bias, one, zero, x, out)),
    ("params", lambda: f(array("i", [4, 2, 0, 0, 5, 1]), 8, w, bias, one, zero, x, out)),
    ("params", lambda: f(array("i", [4, 2, 0, 0, 0]), 8, w, bias, one, zero, x, out)),
    ("bits", lambda: f(p, 3, w, bias, one, zero, x, out)),
    ("weights", lambda: f(p, 8, w[:7], bias, one, zero, x, out)),
    ("weights", lambda: f(p, 8, array("i", [1, 2]), bias, one, zero, x, out)),
    ("bias", lambda: f(p, 8, w, array("i", [0]), one, zero, x, out)),
    ("multiplier", lambda: f(p, 8, w, bias, array("i", [-1]), zero, x, out)),
    ("multiplier", lambda: f(p, 8, w, bias, one, array("i", [0, 0]), x, out)),
    ("begin", lambda: f(p, 8, w, bias, one, zero, x, out, 1, 3)),
    ("first", lambda: f(p, 8, w, bias, one, zero, x, out, 0, 2, -1)),
    ("weights", lambda: f(p, 8, w, bias, one, zero, x, out, 0, 2, 1)),
    ("params", lambda: f(array("i", [4, 2, 0, 0, -128, 127]), 8, w,
                         array("i", [1 << 30, 0]), one, zero, x, out)),
    ("table", lambda: _micronn.lookup(array("i", [4]), bytearray(255), x, x)),
    ("exp", lambda: _micronn.softmax(array("i", [1, 4, 0, 0, 0]), bytearray(1024), x, x)),
    ("table", lambda: _micronn.softmax(array("i", [1, 4, 0, 0, 0]), array("i", [-1] * 256), x, x)),
    ("x", lambda: _micronn.mean(array("i", [2, 2, 1, 0, 0, 1 << 30, 0]), x[:3], out[:1])),
    ("b", lambda: _micronn.add(array("i", [4] + [0] * 12), x, x[:3], x)),
    ("params", lambda: _micronn.mul(array("i", mul_params[:18]), x, x, x)),
    ("params", lambda: _micronn.mul(array("i", mul_params[:15] + [-1, 0, -128, 127]), x, x, x)),
    ("b", lambda: _micronn.mul(array("i", mul_params), x, x[:3], x)),
]
for name, call in bad:
    try:
        call()
    except ValueError as e:
        assert str(e).startswith(name) or name in str(e), (name, str(e))
    else:
        raise AssertionError("no ValueError for " + name)

# Random arguments: only ValueError or TypeError, never a crash.
pool = [None, 0, 8, 4, 2, -1, 1 << 40, p, w, bias, one, zero, x, out, bytearray(0), b"",
        bytearray(300), array("i", [0] * 19), array("i", [65535] * 19), array("i", [-1] * 13),
        array("i", [1] * 13), array("b", [0] * 256), array("i", [0] * 256), memoryview(w)[1:],
        array("h", [0] * 8), "text", 3.5]
functions = [_micronn.fully_connected, _micronn.conv_2d, _micronn.depthwise_conv_2d,
             _micronn.max_pool_2d, _micronn.average_pool_2d, _micronn.mean, _micronn.add,
             _micronn.mul, _micronn.lookup, _micronn.softmax]
arity = [8, 8, 8, 3, 3, 3, 4, 4, 4, 4]
raised = 0
for _ in range({rounds}):
    k = rand(len(functions))
    n = arity[k] + (rand(4) if k < 3 else 0)
    args = [pool[rand(len(pool))] for _ in range(n)]
    try:
        functions[k](*args)
    except (ValueError, TypeError, OverflowError):
        raised += 1
print("fuzz ok", len(bad), "named checks,", raised, "of", {rounds}, "random calls refused")
"""

HEAP_SCRIPT = """
import micronn, micropython
from array import array


def steady(net, x, out):
    net.predict(x, out)
    micropython.heap_lock()
    try:
        for _ in range(3):
            net.predict(x, out)
    finally:
        micropython.heap_unlock()


for index in range({count}):
    net = micronn.load("m%d.mnq" % index, backend="c")
    steady(net, array("b", bytes(len(net._x))), array("b", bytes(len(net._result))))
print("predict allocated nothing")
"""


def _vm(executable, script, folder, micropypath):
    (folder / "_script.py").write_text(script)
    done = subprocess.run(
        [executable, "-X", "heapsize=4M", "_script.py"],
        cwd=folder,
        env=dict(os.environ, MICROPYPATH=micropypath),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


ROM_MOUNT = """
import vfs
vfs.mount(vfs.VfsRom(open("cases.romfs", "rb").read()), "/rom")
"""

PROBE_SCRIPT = """
import sys
import micronn
print("_micronn" in sys.modules, micronn.backends.AVAILABLE[0])
"""


def _check_vm(executable, folder, micropypath):
    # `import micronn` finds _micronn but keeps no copy: a python or viper model pays nothing
    assert _vm(executable, PROBE_SCRIPT, folder, micropypath).split() == ["False", "c"]
    count, expected = write_cases(folder)
    script = VM_SCRIPT.format(count=count, backend="c", weights="ram")
    out = _vm(executable, script, folder, micropypath)
    assert f"ran {count} models with backend c" in out
    check_outputs(folder, expected)
    check_kernels(out)
    # weights streamed from the file a few channels at a time: Filter.run_rows, begin/end/first
    script = VM_SCRIPT.format(count=count, backend="c", weights="stream")
    out = _vm(executable, script, folder, micropypath)
    check_outputs(folder, expected)
    check_streamed(out)
    # weights from a ROMFS mount: depthwise weights as uctypes views too (bias stays an array)
    files = {f"m{index}.mnq": (folder / f"m{index}.mnq").read_bytes() for index in range(count)}
    (folder / "cases.romfs").write_bytes(build_image(files))
    script = VM_SCRIPT.format(count=count, backend="c", weights="rom")
    script = ROM_MOUNT + script.replace('micronn.load("m%d.mnq"', 'micronn.load("/rom/m%d.mnq"')
    _vm(executable, script, folder, micropypath)
    check_outputs(folder, expected)
    heap_script = HEAP_SCRIPT.replace("{count}", str(count))
    assert "predict allocated nothing" in _vm(executable, heap_script, folder, micropypath)
    out = _vm(executable, FUZZ_SCRIPT.replace("{rounds}", str(FUZZ_ROUNDS)), folder, micropypath)
    assert "fuzz ok" in out


def test_backend_c_without_the_module_says_how_to_install_it(tmp_path):
    script = """
import micronn
try:
    micronn.load("missing.mnq", backend="c")
except ValueError as e:
    print("ValueError:", e)
"""
    if "'c'" in run("import micronn.backends as b\nprint(b.AVAILABLE)"):
        pytest.skip("this VM has _micronn built in")
    out = run(script, cwd=tmp_path)
    assert "backend 'c' needs the _micronn C module" in out


def natmod_tools_missing() -> str:
    """Why `make natmod` cannot link here ("" when it can): MicroPython's tools/mpy_ld.py imports
    pyelftools, and `ar` to link the .a archives (libgcc) even where the checkout has a
    tools/ar_util.py."""
    if not MPY_DIR:
        return "set MPY_DIR to a MicroPython checkout to build the natmod"
    modules = ["elftools", "ar"]
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        return (
            f"the natmod links with {' and '.join(missing)}, missing in {sys.executable}: "
            f"{sys.executable} -m pip install pyelftools ar"
        )
    return ""


needs_natmod_tools = pytest.mark.skipif(bool(natmod_tools_missing()), reason=natmod_tools_missing())


def build_natmod(folder: Path, arch: str = "x64") -> Path:
    """`make natmod` into a tmp folder (it builds on a copy of ulab_ext); returns the .mpy."""
    command = ["make", "-C", str(ROOT), "natmod", f"ARCH={arch}", f"MPY_DIR={MPY_DIR}"]
    command += [f"NATMOD_PYTHON={sys.executable}", f"NATMOD_OUT={folder / 'natmod'}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return folder / "natmod" / "_micronn.mpy"


@needs_natmod_tools
def test_natmod_x64_loads_into_the_pypi_vm_and_matches_the_reference(tmp_path):
    mpy = build_natmod(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(mpy, work / "_micronn.mpy")
    pypi_vm = find_micropython(str(Path(sys.executable).parent / "micropython"))
    _check_vm(pypi_vm, work, f"{FIRMWARE}:{work}")


# The last commit whose _micronn has no mul (MUL came with b632ecc); same ABI_VERSION.
BEFORE_MUL = "923f61f"


@needs_natmod_tools
def test_an_older_natmod_without_mul_runs_mul_with_its_python_kernel(tmp_path):
    """A board's _micronn.mpy from before MUL: backend "c" still loads every model, MUL layers
    run with python_broadcast (and LOG_SOFTMAX, younger still, with python_log_softmax), the
    others in C, all exact."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", BEFORE_MUL, "ulab_ext"], capture_output=True
    )
    if archive.returncode != 0:
        pytest.skip(f"needs the git history (commit {BEFORE_MUL}) of a full clone")
    subprocess.run(["tar", "-x", "-C", str(tmp_path)], input=archive.stdout, check=True)
    source = tmp_path / "ulab_ext"
    assert not (source / "kernels" / "mul.c").exists()
    command = ["make", "-C", str(source), f"MPY_DIR={MPY_DIR}", "ARCH=x64"]
    done = subprocess.run(
        [*command, f"PYTHON={sys.executable}"], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(source / "_micronn.mpy", work / "_micronn.mpy")
    pypi_vm = find_micropython(str(Path(sys.executable).parent / "micropython"))
    probe = "import _micronn\nprint(hasattr(_micronn, 'mul'), _micronn.ABI_VERSION)"
    assert _vm(pypi_vm, probe, work, f"{FIRMWARE}:{work}").split() == ["False", "1"]
    count, expected = write_cases(work)
    script = VM_SCRIPT.format(count=count, backend="c", weights="ram")
    out = _vm(pypi_vm, script, work, f"{FIRMWARE}:{work}")
    assert f"ran {count} models with backend c" in out
    check_outputs(work, expected)
    # LOG_SOFTMAX's C kernel came after it too
    check_kernels(out, C_KERNELS | {"MUL": "python_broadcast", "LOG_SOFTMAX": "python_log_softmax"})


@needs_natmod_tools
def test_a_natmod_copied_to_a_running_board_is_used_without_a_soft_reset(tmp_path):
    """The agent's interpreter imported micronn before lib/_micronn.mpy arrived: info lists c
    and run --backend c uses it at once (backends.available() looks again while c is absent)."""
    mpy = build_natmod(tmp_path).read_bytes()
    count, _ = write_cases(tmp_path)
    model = tmp_path / "m0.mnq"
    size = len((tmp_path / "x0.bin").read_bytes()) // ROWS
    x = np.random.default_rng(6).integers(-128, 128, size=(3, size)).astype(np.int8)
    want = reference.run(container.read(model.read_bytes()), x)
    pypi_vm = find_micropython(str(Path(sys.executable).parent / "micropython"))  # no _micronn
    with VirtualBoard("rp2040", micropython=pypi_vm) as board:
        flash(board.port, model)
        before = describe(board.port).info.backends.split(",")
        assert "c" not in before and run_on_board(board.port, x).model.backend == before[0]
        with SerialTransport(board.port) as transport, transport.session() as session:
            session.upload("lib/_micronn.mpy", mpy)
        assert describe(board.port).info.backends.split(",") == ["c", *before]
        for backend in ("c", "auto"):
            result = run_on_board(board.port, x, backend=backend)
            assert result.model.backend == "c"
            np.testing.assert_array_equal(result.outputs, want)


def _custom_vm_problem() -> str:
    """Why the tests of a VM with _micronn built in cannot run ("" when they can)."""
    if not CUSTOM_VM:
        return "set MICRONN_MICROPYTHON to a VM built with _micronn"
    probe = "try:\n import _micronn\n print('yes')\nexcept ImportError:\n print('no')"
    done = subprocess.run(
        [find_micropython(CUSTOM_VM), "-c", probe], capture_output=True, text=True, timeout=60
    )
    if done.stdout.strip() != "yes":
        return (
            f"MICRONN_MICROPYTHON={CUSTOM_VM} has no _micronn built in (a ulab-only VM?): build "
            "one with ulab_ext as a user C module (docs/building.md)"
        )
    return ""


@pytest.fixture(scope="module")
def custom_vm():
    problem = _custom_vm_problem()
    if problem:
        pytest.skip(problem)
    return find_micropython(CUSTOM_VM)


ULAB_SCRIPT = """
import micronn
from ulab import numpy as np
net = micronn.load("m0.mnq", backend="c")
n = len(net._x)
x = np.array([((i * 37) % 256) - 128 for i in range(2 * n)], dtype=np.int8)
dense = x[:n]
out = np.zeros(len(net._result), dtype=np.int8)
net._plan[0][0](net._plan[0][1], dense, None, out)
import _micronn
try:
    _micronn.lookup(__import__("array").array("i", [n]), bytearray(256), x[::2], out)
except ValueError as e:
    print("non-dense refused:", e)
print("ulab ok")
"""


def test_custom_vm_with_micronn_built_in(tmp_path, custom_vm):
    _check_vm(custom_vm, tmp_path, str(FIRMWARE))
    probe = _vm(
        custom_vm, "import micronn.backends as b\nprint(b.AVAILABLE)", tmp_path, str(FIRMWARE)
    )
    assert probe.strip().startswith("('c'"), probe
    has_ulab = "yes" in _vm(
        custom_vm, "try:\n import ulab\n print('yes')\nexcept ImportError:\n print('no')",
        tmp_path, str(FIRMWARE),
    )  # fmt: skip
    if has_ulab:
        out = _vm(custom_vm, ULAB_SCRIPT, tmp_path, str(FIRMWARE))
        assert "non-dense refused: x: must be a buffer" in out and "ulab ok" in out


def test_virtual_board_takes_a_custom_micropython():
    args = build_parser().parse_args(["virtual-board", "--micropython", "/opt/mp/micropython"])
    assert args.micropython == "/opt/mp/micropython"


def test_simulate_and_a_virtual_board_run_on_the_custom_vm(tmp_path, custom_vm):
    count, expected = write_cases(tmp_path)
    rng = np.random.default_rng(5)
    model = tmp_path / "m0.mnq"
    size = len((tmp_path / "x0.bin").read_bytes()) // ROWS
    x = rng.integers(-128, 128, size=(3, size)).astype(np.int8)
    np.save(tmp_path / "x.npy", x)
    argv = ["simulate", str(model), "--input", str(tmp_path / "x.npy"), "--backend", "c"]
    argv += ["--micropython", custom_vm, "--output", str(tmp_path / "y.npy")]
    assert main(argv) == 0
    want = reference.run(container.read(model.read_bytes()), x)
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), want)
    with VirtualBoard("rp2040", micropython=custom_vm) as board:
        flash(board.port, model)
        result = run_on_board(board.port, x, backend="c")
    assert result.model.backend == "c"
    np.testing.assert_array_equal(result.outputs, want)
