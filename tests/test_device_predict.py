"""The device API on the MicroPython VM: allocation-free predict, edges, attributes, errors."""

import json

import numpy as np
import pytest
from model_factory import random_dense_layer, random_dense_model, random_inputs
from vm import run, vm_params

from micronn import container, reference
from micronn.boards import load_board
from micronn.model import Model, TensorSpec

WEIGHT_OPTIONS = [(bits, per_channel) for bits in (8, 4, 2) for per_channel in (False, True)]

HEAP_LOCK_SCRIPT = """
import json
import micropython
from array import array
import micronn

for index in range({count}):
    net = micronn.load("m%d.mnq" % index)
    with open("x%d.bin" % index, "rb") as f:
        raw = f.read()
    n = len(raw)
    signed = [v - 256 if v > 127 else v for v in raw]
    inputs = [array("b", raw), raw, bytearray(raw), memoryview(raw), signed]
    outs = [array("b", bytes(len(net._result))), bytearray(len(net._result))]
    warm = bytes(array("b", net.predict(raw)))
    results = [None] * 15
    errors = []
    i = 0
    micropython.heap_lock()
    try:
        for x in inputs:
            y = net.predict(x)
            results[i] = y is net.predict(x)  # the net's own buffer, every call
            i += 1
            for out in outs:
                results[i] = net.predict(x, out) is out
                i += 1
    except MemoryError as error:
        errors.append(str(error))
    finally:
        micropython.heap_unlock()
    same = bytes(array("b", net._y)) == warm and bytes(outs[1]) == warm
    print(json.dumps([index, results, errors, list(warm), same]))
"""


@pytest.fixture(scope="module")
def models():
    rng = np.random.default_rng(21)
    return [
        random_dense_model(rng, bits=bits, per_channel=per_channel)
        for bits, per_channel in WEIGHT_OPTIONS
    ]


def _write(tmp_path, models, inputs):
    for index, (model, x) in enumerate(zip(models, inputs, strict=True)):
        (tmp_path / f"m{index}.mnq").write_bytes(container.write(model))
        (tmp_path / f"x{index}.bin").write_bytes(x.tobytes())


@pytest.mark.parametrize("vm", vm_params())
def test_predict_allocates_nothing_after_the_first_call(models, tmp_path, vm):
    rng = np.random.default_rng(3)
    inputs = [random_inputs(rng, model, 1)[0] for model in models]
    _write(tmp_path, models, inputs)
    stdout = run(HEAP_LOCK_SCRIPT.format(count=len(models)), cwd=tmp_path, heapsize="256K", vm=vm)
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert len(lines) == len(models)
    for (index, results, errors, warm, same), model, x in zip(lines, models, inputs, strict=True):
        assert errors == [], f"model {index} allocated under heap_lock: {errors}"
        assert results == [True] * 15
        assert same
        warm = np.array(warm, np.uint8).view(np.int8)
        np.testing.assert_array_equal(warm, reference.run(model, x))


IN_PLACE_SCRIPT = """
import json
import micropython
import micronn

net = micronn.load("m0.mnq")
with open("x0.bin", "rb") as f:
    rows = f.read()
view = net.input
n = len(view)
out = bytearray(len(net._result))
m = len(out)
results = bytearray(len(rows) // n * m)
net.predict(view, out)  # warm-up


def fill_and_predict():  # locals: a global's first store may grow the module's dict
    for r in range(len(rows) // n):
        for i in range(n):
            code = rows[r * n + i]
            view[i] = code - 256 if code > 127 else code
        net.predict(view, out)
        for j in range(m):
            results[r * m + j] = out[j]


errors = []
micropython.heap_lock()
try:
    fill_and_predict()
except MemoryError:
    micropython.heap_unlock()
    errors.append("MemoryError")
finally:
    micropython.heap_unlock()
print(json.dumps([view is net.input, n, errors, list(results)]))
"""


@pytest.mark.parametrize("vm", vm_params())
def test_the_input_filled_in_place_predicts_without_a_copy_or_an_allocation(tmp_path, vm):
    """net.input is the arena's input tensor: filled item by item and passed to predict, it
    gives the reference's outputs row after row (the layers may reuse its bytes), under
    heap_lock."""
    rng = np.random.default_rng(8)
    model = random_dense_model(rng, bits=8, per_channel=True)
    x = random_inputs(rng, model, 3)
    _write(tmp_path, [model], [x])
    same_view, n, errors, outs = json.loads(run(IN_PLACE_SCRIPT, cwd=tmp_path, vm=vm))
    assert same_view and n == model.input.size
    assert errors == [], "predict(net.input) allocated under heap_lock"
    got = np.array(outs, np.uint8).view(np.int8).reshape(len(x), -1)
    np.testing.assert_array_equal(got, reference.run(model, x).reshape(len(x), -1))


EDGES_SCRIPT = """
import json
from array import array
import micronn

net = micronn.load("m0.mnq")
with open("floats.bin", "rb") as f:
    raw = f.read()
floats = array("f", raw)
n = len(net._x)
codes = bytearray()
outputs = bytearray()
reals = bytearray()
for r in range(len(floats) // n):
    row = array("f", raw[4 * r * n:4 * (r + 1) * n])
    codes.extend(bytes(net.quantize(row)))
    y = net.predict(row)
    outputs.extend(bytes(y))
    reals.extend(bytes(net.dequantize(y)))
with open("codes.bin", "wb") as f:
    f.write(codes)
with open("outputs.bin", "wb") as f:
    f.write(outputs)
with open("reals.bin", "wb") as f:
    f.write(reals)
print(json.dumps({
    "input_shape": net.input_shape,
    "output_shape": net.output_shape,
    "input_scale": net.input_scale,
    "input_zero_point": net.input_zero_point,
    "output_scale": net.output_scale,
    "output_zero_point": net.output_zero_point,
    "backend": net.backend,
    "version": micronn.__version__,
    "tuples": type(net.input_shape) is tuple and type(net.output_shape) is tuple,
    "dequantize_type": type(net.dequantize(net._result)) is array,
}))
"""


def _edge_floats(rng, model, rows):
    """Floats that hit every rounding case: exact ties, near-ties, huge, tiny and zero."""
    scale, zero_point = model.input.scale, model.input.zero_point
    size = model.input.size
    codes = rng.integers(-140, 140, size=(rows, size)) - zero_point
    ties = (codes + rng.choice([-0.5, 0.5], size=codes.shape)) * np.float64(scale)
    near = ties * (1 + rng.choice([-1e-7, 1e-7], size=codes.shape))
    wide = rng.normal(0, 300 * scale, size=(rows, size))
    x = np.concatenate([ties, near, wide]).astype(np.float32)
    x[0, 0], x[1, 0], x[2, 0] = 3e38, -3e38, 0.0
    if size > 1:
        x[0, 1], x[1, 1] = np.inf, -np.inf
    return x


@pytest.mark.parametrize("vm", vm_params())
def test_float_edges_match_the_reference(tmp_path, vm):
    rng = np.random.default_rng(17)
    model = random_dense_model(rng, bits=8, per_channel=True)
    x = _edge_floats(rng, model, 30)
    (tmp_path / "m0.mnq").write_bytes(container.write(model))
    (tmp_path / "floats.bin").write_bytes(x.tobytes())
    info = json.loads(run(EDGES_SCRIPT, cwd=tmp_path, vm=vm))
    codes = np.frombuffer((tmp_path / "codes.bin").read_bytes(), np.int8).reshape(x.shape)
    expected_codes = reference.quantize_input(model, x)
    np.testing.assert_array_equal(codes, expected_codes)
    outputs = np.frombuffer((tmp_path / "outputs.bin").read_bytes(), np.int8)
    expected_outputs = reference.run(model, expected_codes)
    np.testing.assert_array_equal(outputs.reshape(expected_outputs.shape), expected_outputs)
    reals = np.frombuffer((tmp_path / "reals.bin").read_bytes(), np.float32)
    expected_reals = reference.dequantize_output(model, expected_outputs).astype(np.float32)
    np.testing.assert_array_equal(reals.view(np.uint32), expected_reals.reshape(-1).view(np.uint32))
    assert info["backend"] in ("c", "viper", "python")
    # the container's float32 scales, as a float32 board prints them or as a float64 port does
    for key, scale in (("input_scale", model.input.scale), ("output_scale", model.output.scale)):
        assert np.float32(info.pop(key)) == np.float32(scale)
    assert info == {
        "input_shape": list(model.input.shape),
        "output_shape": list(model.output.shape),
        "input_zero_point": model.input.zero_point,
        "output_zero_point": model.output.zero_point,
        "backend": info["backend"],
        "version": "0.1.0",
        "tuples": True,
        "dequantize_type": True,
    }


ERRORS_SCRIPT = """
import json
from array import array
import micronn

net = micronn.load("m0.mnq")
n = len(net._x)
m = len(net._result)

def outcome(call):
    try:
        call()
    except ValueError as error:
        return ["ValueError", str(error)]
    except Exception as error:
        return [type(error).__name__, str(error)]
    return ["no error", ""]

cases = {
    "short input": lambda: net.predict(bytes(n - 1)),
    "long input": lambda: net.predict(array("b", bytes(n + 1))),
    "no input": lambda: net.predict(None),
    "int input": lambda: net.predict(5),
    "text input": lambda: net.predict("a" * n),
    "code 128 in a list": lambda: net.predict([0] * (n - 1) + [128]),
    "code -129": lambda: net.predict([-129] + [0] * (n - 1)),
    "code 256 in an array": lambda: net.predict(array("h", [256] * n)),
    "float in an int list": lambda: net.predict([0] * (n - 1) + [0.5]),
    "NaN input": lambda: net.predict(array("f", [float("nan")] * n)),
    "short out": lambda: net.predict(bytes(n), bytearray(m - 1)),
    "list out": lambda: net.predict(bytes(n), [0] * m),
    "short dequantize out": lambda: net.dequantize(bytes(m), array("f", bytes(4))),
    "unknown backend": lambda: micronn.load("m0.mnq", backend="gpu"),
    "python backend": lambda: micronn.load("m0.mnq", backend="python"),
}
print(json.dumps({name: outcome(call) for name, call in cases.items()}))
"""


@pytest.mark.parametrize("vm", vm_params())
def test_bad_arguments_raise_value_errors_that_say_what_is_expected(tmp_path, vm):
    rng = np.random.default_rng(4)
    model = random_dense_model(rng)
    (tmp_path / "m0.mnq").write_bytes(container.write(model))
    results = json.loads(run(ERRORS_SCRIPT, cwd=tmp_path, vm=vm))
    assert results.pop("python backend") == ["no error", ""]
    size = model.input.size
    expected_words = {
        "short input": f"{size} items",
        "long input": f"{size} items",
        "no input": f"{size} items",
        "int input": f"{size} items",
        "text input": "int8 code",
        "code 128 in a list": f"item {size - 1} (128)",
        "code -129": "item 0 (-129)",
        "code 256 in an array": "item 0 (256)",
        "float in an int list": "int8 code",
        "NaN input": "NaN",
        "short out": f"{model.output.size} items",
        "list out": "array('b') or a bytearray",
        "short dequantize out": f"{model.output.size} items",
        "unknown backend": "available on this board: auto, ",
    }
    assert set(results) == set(expected_words)
    for name, words in expected_words.items():
        kind, message = results[name]
        assert kind == "ValueError", (name, results[name])
        assert words in message, (name, message)


PEAK_SCRIPT = """
import gc
from array import array
gc.collect()
start = gc.mem_alloc()
import micronn
from micronn import python_dense
gc.collect()
imported = gc.mem_alloc()
net = micronn.load("m0.mnq")
x = array("b", bytes(len(net._x)))
net.predict(x)
gc.collect()
print(imported - start, gc.mem_alloc() - imported)
"""


def small_demo_model() -> Model:
    """64 -> 32 -> 10 int8, per-channel: the size of a digits classifier."""
    rng = np.random.default_rng(9)
    layers = [
        random_dense_layer(rng, 64, 32, 8, True, "relu"),
        random_dense_layer(rng, 32, 10, 8, True, "none"),
    ]
    return Model(TensorSpec((64,), 0.0625, -128), TensorSpec((10,), 0.2, 3), layers)


def test_a_small_model_fits_the_esp32_heap_with_little_overhead(tmp_path):
    """Importing the package from source (compiling it) and loading fit 100 KiB of heap.

    gc.mem_alloc() after gc.collect() is the live heap (micropython.mem_current/mem_peak
    count allocations that the GC later frees, so they overstate it).
    """
    data = container.write(small_demo_model())
    (tmp_path / "m0.mnq").write_bytes(data)
    stdout = run(PEAK_SCRIPT, cwd=tmp_path, heapsize=str(load_board("esp32").heap_bytes))
    package, net = (int(v) for v in stdout.split())
    print(f"\n{len(data)} B model: package {package} B and net {net} B live on the VM")
    assert len(data) < net < 2 * len(data) + 4096
