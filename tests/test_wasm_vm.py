"""The 32-bit VM (MicroPython's webassembly port, micronn.wasm_vm): what it is, how its runner
behaves, and the device arithmetic on its 31-bit small ints.

The unix VM's small ints have 63 bits, so tests/test_device_int31*.py check the 31-bit bound
under CPython; here the same bound models run on a VM whose small ints have 31 bits: an
intermediate that left them would be a long int, which allocates, and predict runs under
heap_lock.
"""

import ast
import json
import re

import numpy as np
import pytest
from test_device_int31 import BOUND_CASES, bound_model
from vm import FIRMWARE, run, vm_params

from micronn import container, reference, wasm_vm

ON_WASM = pytest.mark.parametrize("vm", vm_params(("wasm32",)))

FACTS_SCRIPT = """
import gc
import json
import micropython
import sys


def boxed(n):
    micropython.heap_lock()
    try:
        n + 1
        return False
    except MemoryError:
        return True
    finally:
        micropython.heap_unlock()


def block_bytes():
    keep = [None] * 64
    gc.collect()  # on this port: collected once control is back at the top level
    yield
    before = gc.mem_alloc()
    for i in range(64):
        keep[i] = bytearray(1)
    gc.collect()
    yield
    return (gc.mem_alloc() - before) // 64


def main():
    per_bytearray = yield from block_bytes()
    print(json.dumps({
        "platform": sys.platform,
        "maxsize": sys.maxsize,
        "native_arch": sys.implementation._mpy >> 10,
        "small_top_boxed": boxed(2**30 - 2),
        "past_small_boxed": boxed(2**30 - 1),
        "below_small_boxed": boxed(-(2**30) - 1),
        "bytearray_1": per_bytearray,
    }))


STEPS = main()
TOP_LEVEL_STEP = STEPS.send
"""


@ON_WASM
def test_the_vm_is_a_32_bit_micropython(vm, tmp_path):
    facts = json.loads(run(FACTS_SCRIPT, cwd=tmp_path, vm=vm))
    assert facts == {
        "platform": "webassembly",
        "maxsize": 2**31 - 1,
        "native_arch": 0,  # no native emitter: no viper, no natmod
        "small_top_boxed": False,  # 2**30 - 1 is the largest small int
        "past_small_boxed": True,
        "below_small_boxed": True,
        "bytearray_1": 32,  # a 16-byte GC block for the object, one for its byte
    }


@ON_WASM
def test_the_runner_passes_arguments_files_and_exit_status(vm, tmp_path):
    script = tmp_path / "echo.py"
    script.write_text(
        "import sys\n"
        "print(sys.argv[1:], open('in.txt').read())\n"
        "open('out.txt', 'w').write('written')\n"
        "sys.exit(int(sys.argv[1]))\n"
    )
    (tmp_path / "in.txt").write_text("read")
    done = wasm_vm.run(script, ["3", "x y"], cwd=tmp_path)
    assert (done.returncode, done.stdout) == (3, "['3', 'x y'] read\n")
    assert (tmp_path / "out.txt").read_text() == "written"
    script.write_text("x = 1\nraise ValueError('bad input')\n")
    done = wasm_vm.run(script, cwd=tmp_path)
    assert done.returncode == 1 and done.stderr.endswith("ValueError: bad input\n")


BOUND_SCRIPT = """
import json
import micropython
from array import array
import micronn

for index in range({count}):
    net = micronn.load("m%d.mnq" % index)
    with open("x%d.bin" % index, "rb") as f:
        rows = f.read()
    n = len(net._x)
    y = array("b", bytes(len(net._result)))
    outputs = bytearray(len(rows) // n * len(y))
    net.predict(rows[:n], y)  # the first call may allocate
    views = [memoryview(rows)[r * n:(r + 1) * n] for r in range(len(rows) // n)]
    locked = True
    micropython.heap_lock()
    try:
        for r in range(len(views)):
            net.predict(views[r], y)
            for k in range(len(y)):
                outputs[r * len(y) + k] = y[k] & 0xFF
    except MemoryError:
        locked = False
    finally:
        micropython.heap_unlock()
    with open("y%d.bin" % index, "wb") as f:
        f.write(outputs)
    print(json.dumps([index, locked]))
"""


@ON_WASM
def test_accumulators_on_the_31_bit_bound_run_allocation_free(vm, tmp_path):
    """Every bound model of test_device_int31 (accumulators of exactly 2**30 - 1, multipliers
    up to 2**31 - 1, shifts from +top to -31) predicts under heap_lock: no intermediate leaves
    the small ints; and the outputs equal the reference."""
    rng = np.random.default_rng(12)
    models, inputs = [], []
    for index, case in enumerate(BOUND_CASES):
        model = bound_model(*case)
        size = model.input.size
        x = np.concatenate(
            [
                np.full((1, size), -128, np.int8),
                np.full((1, size), 127, np.int8),
                rng.integers(-128, 128, (2, size)).astype(np.int8),
            ]
        )
        (tmp_path / f"m{index}.mnq").write_bytes(container.write(model))
        (tmp_path / f"x{index}.bin").write_bytes(x.tobytes())
        models.append(model)
        inputs.append(x)
    lines = run(BOUND_SCRIPT.format(count=len(models)), cwd=tmp_path, vm=vm).splitlines()
    assert [json.loads(line) for line in lines] == [[i, True] for i in range(len(models))]
    for index, (model, x) in enumerate(zip(models, inputs, strict=True)):
        got = np.frombuffer((tmp_path / f"y{index}.bin").read_bytes(), np.int8)
        expected = reference.run(model, x)
        np.testing.assert_array_equal(got.reshape(expected.shape), expected, err_msg=str(index))


def _body(path, name):
    """The source lines of function `name` in `path`, without its docstring."""
    source = path.read_text()
    tree = ast.parse(source)
    function = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    start = function.body[1 if ast.get_docstring(function) else 0].lineno
    return source.splitlines()[start - 1 : function.end_lineno]


LOADING_TWINS = {"load": "loading", "_build": "_building", "_read": "_reading"}


def _code(lines, staged):
    """The code of a body without whitespace or the probe: a stage's probe call (load) or yield
    (loading) reads `_stage(NAME)`, a helper generator's `yield from` a plain call."""
    text = "\n".join(lines)
    if staged:
        text = re.sub(r'yield _done\(("\w+")\)', r"_stage(\1)", text)
        text = text.replace("yield from ", "")
        for plain, twin in LOADING_TWINS.items():
            text = re.sub(rf"\b{twin}\(", f"{plain}(", text)
    text = re.sub(r"\s+", "", text)
    return text.replace(",probe", "").replace("probe,", "")


def test_loading_is_load_line_for_line():
    """micronn.loading (what this VM's runner measures) is load()'s body and its helpers',
    each stage's probe call a yield: a change to load() that is not made there too fails here."""
    stages = 0
    for plain, staged in LOADING_TWINS.items():
        load = _body(FIRMWARE / "micronn" / "__init__.py", plain)
        loading = _body(FIRMWARE / "micronn" / "loading.py", staged)
        assert _code(loading, True) == _code(load, False), plain
        stages += sum("_stage(probe" in line for line in load)
    assert stages == 5
