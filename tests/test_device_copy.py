"""predict's input and output copies on the MicroPython VM: exact, allocation-free and fast.

Buffers of one-byte items (bytes, bytearray, memoryview, array('b')) are copied into the input
tensor as raw bytes, and the output tensor into an array('b') / bytearray `out` the same way
(net.py); every other input still goes through the checked item-by-item path. These tests pin
the bytes every kind of input leaves in the input tensor (all 256 byte values), the outputs
against the numpy reference, every error message, allocation-free predict under
micropython.heap_lock() with every backend the VM offers, and that the raw copies are much
faster than the item-by-item path. They run on the VM as it is (viper), with the copies
switched off (firmware without slice assignment), and as CircuitPython runs the package.
"""

import json

import numpy as np
import pytest
import vm
from model_factory import random_dense_layer
from test_circuitpython_fidelity import bytecode_runner, package_root  # noqa: F401 - fixture

from micronn import container, reference
from micronn.model import Model, TensorSpec

SIZE = 256  # input items: one of each byte value
OUTPUTS = 12
BIG = 4096  # input items of the model the copies are timed on
ALLOCATING = ("ulab",)  # its kernels allocate ndarrays (ulab_dense.py), the copies do not

COMMON = """
import json
import micropython
from array import array
import micronn
from micronn import backends
from micronn import net as net_module

if {loops!r}:
    net_module._BYTE_COPIES = False  # as on firmware without slice assignment

raw = open("x.bin", "rb").read()
n = len(raw)
signed = [v - 256 if v > 127 else v for v in raw]
low = bytes(v & 0x7F for v in raw)


def inputs():
    # name, input, the bytes it must leave in the input tensor
    padded = b"\\x55" + raw + b"\\xaa"
    return [
        ("bytes", raw, raw),
        ("bytearray", bytearray(raw), raw),
        ("memoryview of bytes", memoryview(raw), raw),
        ("memoryview of bytearray", memoryview(bytearray(raw)), raw),
        ("memoryview slice", memoryview(padded)[1 : n + 1], raw),
        ("array('b')", array("b", raw), raw),
        ("memoryview of array('b')", memoryview(array("b", raw)), raw),
        ("array('B') of codes 0..127", array("B", low), low),
        ("list", signed, raw),
        ("array('h')", array("h", signed), raw),
        ("array('i')", array("i", signed), raw),
        ("memoryview of array('h')", memoryview(array("h", signed)), raw),
    ]


def outs(m):
    return [
        ("own", None),
        ("bytearray", bytearray(m)),
        ("array('b')", array("b", bytes(m))),
        ("array('B')", array("B", bytes(m))),
        ("array('h')", array("h", bytes(2 * m))),
    ]
"""

EXACT_SCRIPT = (
    COMMON
    + """
for backend in backends.AVAILABLE:
    net = micronn.load("m.mnq", backend=backend)
    m = len(net._result)
    results = {{"backend": net.backend, "inputs": {{}}, "outs": {{}}}}
    for name, x, _ in inputs():
        y = net.predict(x)
        results["inputs"][name] = [list(bytes(net._x)), list(bytes(y))]
    for name, out in outs(m):
        y = net.predict(raw, out)
        results["outs"][name] = [y is out or out is None, list(y)]
    print(json.dumps(results))
"""
)

ERRORS_SCRIPT = (
    COMMON
    + """
def outcome(call):
    try:
        call()
    except ValueError as error:
        return ["ValueError", str(error)]
    except Exception as error:
        return [type(error).__name__, str(error)]
    return ["no error", ""]


unsigned = array("B", low)
unsigned[7] = 128
wide = array("h", signed)
wide[3] = 300
wide_view = array("h", signed)
wide_view[5] = 256
below = array("h", signed)
below[n - 1] = -129
for backend in backends.AVAILABLE:
    net = micronn.load("m.mnq", backend=backend)
    m = len(net._result)
    cases = {{
        "short bytes": lambda: net.predict(raw[:-1]),
        "long bytearray": lambda: net.predict(bytearray(raw + b"\\x00")),
        "long memoryview": lambda: net.predict(memoryview(raw + b"\\x00")),
        "short array('b')": lambda: net.predict(array("b", raw[1:])),
        "empty bytes": lambda: net.predict(b""),
        "array('B') item above 127": lambda: net.predict(unsigned),
        "array('B') of every byte": lambda: net.predict(array("B", raw)),
        "array('h') item 300": lambda: net.predict(wide),
        "array('h') item -129": lambda: net.predict(below),
        "memoryview of array('h') item 256": lambda: net.predict(memoryview(wide_view)),
        "list item 128": lambda: net.predict(signed[:-1] + [128]),
        "text": lambda: net.predict("a" * n),
        "list out": lambda: net.predict(raw, [0] * m),
        "short bytearray out": lambda: net.predict(raw, bytearray(m - 1)),
        "long array out": lambda: net.predict(raw, array("b", bytes(m + 1))),
    }}
    results = {{name: outcome(call) for name, call in cases.items()}}
    results["after the errors"] = list(bytes(net.predict(raw)))
    print(json.dumps([backend, results]))
"""
)

LOCKED_SCRIPT = (
    COMMON
    + """
import gc



def growth(net, pairs):
    gc.collect()
    before = gc.mem_alloc()
    for _ in range(5):
        for x, out in pairs:
            net.predict(x, out)
    return gc.mem_alloc() - before


print(json.dumps(["available", list(backends.AVAILABLE)]))
for backend in backends.AVAILABLE:
    if backend in {allocating!r}:
        continue
    net = micronn.load("m.mnq", backend=backend)
    m = len(net._result)
    xs = inputs()
    targets = outs(m)
    for _, x, _ in xs:
        for _, out in targets:
            net.predict(x, out)  # warm-up
    expected = bytes(net.predict(raw))
    failures = []
    micropython.heap_lock()
    try:
        for name, x, _ in xs:
            for out_name, out in targets:
                try:
                    net.predict(x, out)
                except MemoryError:
                    failures.append([name, out_name])
    finally:
        micropython.heap_unlock()
    same = bytes(net.predict(raw)) == expected
    # Without the lock (where a raise allocates) every kind is allocation-free, too: one-byte
    # kinds in any order; a buffer of wider items as long as it is the one predict last saw.
    wide = ("array('h')", "array('i')", "memoryview of array('h')")
    narrow = [x for name, x, _ in xs if name not in wide]
    wide_out = targets[-1][1]
    grew = [growth(net, [(x, out) for x in narrow for _, out in targets[:-1]])]
    for name, x, _ in xs:
        if name in wide:
            net.predict(x, wide_out)
            grew.append(growth(net, [(x, wide_out)]))
    print(json.dumps([backend, failures, same, grew]))
"""
)

TIMING_SCRIPT = (
    COMMON
    + """
import time


def fastest(call, rounds=7, calls=20):
    best = None
    for _ in range(rounds):
        start = time.ticks_us()
        for _ in range(calls):
            call()
        spent = time.ticks_diff(time.ticks_us(), start) / calls
        best = spent if best is None or spent < best else best
    return best


for backend in backends.AVAILABLE:
    net = micronn.load("big.mnq", backend=backend)
    big = bytes((i * 7919) % 256 for i in range(len(net._x)))
    kinds = [
        ("bytes", big),
        ("bytearray", bytearray(big)),
        ("memoryview", memoryview(big)),
        ("array('b')", array("b", big)),
        ("list", [v - 256 if v > 127 else v for v in big]),
    ]
    times = {{}}
    for name, x in kinds:
        times[name] = fastest(lambda: net._load_input(x))
    print(json.dumps([backend, times]))
"""
)


def _model(rng, size, outputs):
    layer = random_dense_layer(rng, size, outputs, 8, True, "none")
    return Model(TensorSpec((size,), 0.05, 3), TensorSpec((outputs,), 0.1, -2), [layer])


@pytest.fixture(scope="module")
def case():
    """A 256-input dense model and its input: every byte value once, shuffled."""
    rng = np.random.default_rng(29)
    raw = rng.permutation(256).astype(np.uint8).tobytes()
    return _model(rng, SIZE, OUTPUTS), raw


def _write(folder, case):
    model, raw = case
    (folder / "m.mnq").write_bytes(container.write(model))
    (folder / "x.bin").write_bytes(raw)


def _expected_output(model, codes: bytes) -> list[int]:
    x = np.frombuffer(codes, np.int8).reshape(1, -1)
    return reference.run(model, x).reshape(-1).astype(int).tolist()


def _as_bytes(values) -> list[int]:
    return [v & 0xFF for v in values]


def _check_exact(results, case):
    model, raw = case
    low = bytes(v & 0x7F for v in raw)
    expected_codes = dict.fromkeys(results["inputs"], raw)
    expected_codes["array('B') of codes 0..127"] = low
    for name, (tensor, output) in results["inputs"].items():
        codes = expected_codes[name]
        assert bytes(tensor) == codes, name
        assert _as_bytes(output) == _as_bytes(_expected_output(model, codes)), name
    y = _expected_output(model, raw)
    outs = results["outs"]
    assert set(outs) == {"own", "bytearray", "array('b')", "array('B')", "array('h')"}
    assert all(returned for returned, _ in outs.values())
    assert outs["own"][1] == y and outs["array('b')"][1] == y
    assert outs["bytearray"][1] == outs["array('B')"][1] == _as_bytes(y)
    assert outs["array('h')"][1] == y  # wider items get the codes, one by one


def _run(script, folder, runner=None, loops=False):
    """One JSON value per line of the script's output (a line per backend)."""
    text = script.format(loops=loops, allocating=ALLOCATING)
    stdout = (runner or vm.run)(text, cwd=folder, heapsize="2M")
    return [json.loads(line) for line in stdout.splitlines()]


@pytest.mark.parametrize("loops", [False, True], ids=["byte-copies", "item-loops"])
def test_every_input_kind_leaves_exact_bytes_and_outputs(case, loops, tmp_path):
    """With every backend: viper and c check arrays with viper_input, python with max()."""
    _write(tmp_path, case)
    lines = _run(EXACT_SCRIPT, tmp_path, loops=loops)
    assert {"viper", "python"} <= {results["backend"] for results in lines}
    for results in lines:
        assert len(results["inputs"]) == 12
        _check_exact(results, case)


def test_every_input_kind_as_on_circuitpython(case, package_root, tmp_path):  # noqa: F811
    _write(tmp_path, case)
    lines = _run(EXACT_SCRIPT, tmp_path, runner=bytecode_runner(package_root))
    assert "viper" not in {results["backend"] for results in lines}
    for results in lines:
        _check_exact(results, case)


def test_bad_inputs_and_outs_raise_the_errors_they_always_raised(case, tmp_path):
    _write(tmp_path, case)
    model, raw = case
    lines = _run(ERRORS_SCRIPT, tmp_path)
    assert {"viper", "python"} <= {backend for backend, _ in lines}
    for backend, results in lines:
        _check_errors(model, raw, backend, results)


def _check_errors(model, raw, backend, results):
    first_high = next(i for i, v in enumerate(raw) if v > 127)
    length = f"must be a buffer of {SIZE} items"
    expected = {
        "short bytes": length,
        "long bytearray": length,
        "long memoryview": length,
        "short array('b')": length,
        "empty bytes": length,
        "array('B') item above 127": "input item 7 (128) is not an int8 code",
        "array('B') of every byte": f"input item {first_high} ({raw[first_high]}) is not",
        "array('h') item 300": "input item 3 (300) is not an int8 code",
        "array('h') item -129": f"input item {SIZE - 1} (-129) is not an int8 code",
        "memoryview of array('h') item 256": "input item 5 (256) is not an int8 code",
        "list item 128": f"input item {SIZE - 1} (128) is not an int8 code",
        "text": "is not an int8 code",
        "list out": "out must be an array('b') or a bytearray",
        "short bytearray out": f"out must be a buffer of {OUTPUTS} items",
        "long array out": f"out must be a buffer of {OUTPUTS} items",
    }
    after = results.pop("after the errors")
    assert set(results) == set(expected)
    for name, words in expected.items():
        kind, message = results[name]
        assert kind == "ValueError", (backend, name, results[name])
        assert words in message, (backend, name, message)
    assert _as_bytes(after) == _as_bytes(_expected_output(model, raw)), backend


def test_predict_with_every_input_and_out_kind_allocates_nothing(case, tmp_path):
    _write(tmp_path, case)
    lines = _run(LOCKED_SCRIPT, tmp_path)
    assert lines[0][0] == "available" and "viper" in lines[0][1], lines[0]
    assert [line[0] for line in lines[1:]] == [b for b in lines[0][1] if b not in ALLOCATING]
    for backend, failures, same, grew in lines[1:]:
        assert failures == [], f"{backend}: predict allocated under heap_lock: {failures}"
        assert same, backend
        assert grew == [0] * 4, f"{backend}: predict allocated bytes without the lock: {grew}"


def test_byte_copies_are_much_faster_than_checking_items(tmp_path):
    """The item-by-item path costs microseconds per item; a raw copy (and viper_input's scan
    of an array) about nothing. The python backend checks arrays with max(): a few times
    faster than the items loop."""
    rng = np.random.default_rng(5)
    (tmp_path / "big.mnq").write_bytes(container.write(_model(rng, BIG, 2)))
    (tmp_path / "x.bin").write_bytes(bytes(range(256)))
    lines = _run(TIMING_SCRIPT, tmp_path)
    assert {backend for backend, _ in lines} >= {"python", "viper"}
    for backend, times in lines:
        checked = times.pop("list")
        for kind, micros in times.items():
            speedup = 2 if backend == "python" and kind == "array('b')" else 10
            assert micros * speedup < checked, (backend, kind, micros, checked)
