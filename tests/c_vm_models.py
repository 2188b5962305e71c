"""Models of every operator family for running the device package with backend "c" on a VM:
.mnq files, inputs and the reference's outputs, plus the VM script that runs them."""

import json
from pathlib import Path

import numpy as np
from backend_vm import KERNEL_NAMES
from conv_factory import random_chain
from conv_factory import random_inputs as image_inputs
from graph_factory import random_residual_model
from model_factory import random_dense_layer, random_dense_model, random_inputs

from micronn import container, reference
from micronn.model import Model, TensorSpec
from micronn.ops.constant import prepare_constant
from micronn.ops.log_softmax import prepare_log_softmax
from micronn.ops.lookup import prepare_lookup
from micronn.ops.mul import prepare_mul
from micronn.ops.softmax import prepare_softmax
from micronn.ops.unary import hard_swish_table, prepare_table

ROWS = 4

# What runs each operator with backend "c": its _micronn function, or for CONSTANT (no C
# kernel) its python module.
C_KERNELS = {
    "FULLY_CONNECTED": "_micronn.fully_connected",
    "CONV_2D": "_micronn.conv_2d",
    "DEPTHWISE_CONV_2D": "_micronn.depthwise_conv_2d",
    "MAX_POOL_2D": "_micronn.max_pool_2d",
    "AVERAGE_POOL_2D": "_micronn.average_pool_2d",
    "MEAN": "_micronn.mean",
    "ADD": "_micronn.add",
    "MUL": "_micronn.mul",
    "LOGISTIC": "_micronn.lookup",
    "TANH": "_micronn.lookup",
    "SOFTMAX": "_micronn.softmax",
    "CONSTANT": "python_constant",
    "LOOKUP": "_micronn.lookup",
    "LOG_SOFTMAX": "_micronn.log_softmax",
}

VM_SCRIPT = (
    KERNEL_NAMES
    + """
import json
import micronn
from array import array
from micronn.infile import run_streamed

count, backend, weights = {count}, {backend!r}, {weights!r}
for index in range(count):
    net = micronn.load("m%d.mnq" % index, backend=backend, weights=weights)
    assert net.backend == backend, net.backend
    n = len(net._x)
    with open("x%d.bin" % index, "rb") as f:
        rows = f.read()
    out = array("b", bytes(len(net._result)))
    result = bytearray()
    for r in range(len(rows) // n):
        net.predict(memoryview(rows)[r * n:(r + 1) * n], out)
        result.extend(bytes(out))
    with open("y%d.bin" % index, "wb") as f:
        f.write(result)
    print("layers", json.dumps([index, modules(net, backends.select(backend)[1])]))
    streamed = [step[0] is run_streamed for step in net._plan].count(True)
    print("streamed", index, streamed)
    net.close()
print("ran", count, "models with backend", backend)
"""
)


def _head(rng, kind, width):
    """A FULLY_CONNECTED layer followed by LOGISTIC / TANH / SOFTMAX / LOOKUP / LOG_SOFTMAX."""
    dense = random_dense_layer(rng, width, 12, int(rng.choice([8, 4, 2])), True, "none")
    if kind == "SOFTMAX":
        tail = prepare_softmax((3, 4), float(rng.uniform(0.5, 2)), 0.05, 1.0 / 256, -128)
    elif kind == "LOG_SOFTMAX":
        tail = prepare_log_softmax((3, 4), float(rng.uniform(0.02, 0.3)), 16 / 256, 127)
    elif kind == "LOOKUP":
        table = hard_swish_table(0.05, int(rng.integers(-20, 20)), 0.04, int(rng.integers(-9, 9)))
        tail = prepare_table("HARD_SWISH", 12, table)
    else:
        out = {"LOGISTIC": (1.0 / 256, -128), "TANH": (1.0 / 128, 0)}[kind]
        tail = prepare_lookup(kind, 12, 0.05, int(rng.integers(-20, 20)), *out)
    return Model(TensorSpec((width,), 0.5, 0), TensorSpec((12,), 1.0 / 256, -128), [dense, tail])


def _mul(rng, shape, constant_shape):
    """MUL of the input and an int8 constant broadcast against it (a CONSTANT layer writes it),
    or of the input and itself when constant_shape is None."""
    out_shape = tuple(int(d) for d in np.broadcast_shapes(shape, constant_shape or shape))
    s1, s2 = (float(np.float32(10 ** rng.uniform(-2, 0))) for _ in range(2))
    z1, z2, zo = (int(v) for v in rng.integers(-30, 31, 3))
    output = (float(np.float32(s1 * s2 * 10 ** rng.uniform(0, 1.5))), zo)
    activation = str(rng.choice(["none", "relu", "relu6"]))
    edge_in, edge_out = TensorSpec(shape, s1, z1), TensorSpec(out_shape, *output)
    if constant_shape is None:
        layer = prepare_mul(shape, shape, (s1, z1), (s1, z1), output, activation, (0, 0), 1)
        return Model(edge_in, edge_out, [layer], [shape, out_shape])
    values = rng.integers(-128, 128, constant_shape).astype(np.int8)
    constant = prepare_constant(values, output=1)
    layer = prepare_mul(shape, constant_shape, (s1, z1), (s2, z2), output, activation, (0, 1), 2)
    return Model(edge_in, edge_out, [constant, layer], [shape, constant_shape, out_shape])


def models(seed=11):
    rng = np.random.default_rng(seed)
    found = [random_dense_model(rng) for _ in range(4)]
    found += [random_chain(rng) for _ in range(6)]
    found += [random_residual_model(rng) for _ in range(3)]
    found += [
        _head(rng, kind, 9) for kind in ("LOGISTIC", "TANH", "SOFTMAX", "LOOKUP", "LOG_SOFTMAX")
    ]
    found += [_mul(rng, (6, 5), (1, 5)), _mul(rng, (1, 5), (4, 5)), _mul(rng, (3, 4), None)]
    return found, rng


def write_cases(folder: Path, seed=11):
    """Write m<i>.mnq and x<i>.bin; return (count, expected outputs per model)."""
    found, rng = models(seed)
    expected = []
    for index, model in enumerate(found):
        if len(model.input.shape) == 3:
            x = image_inputs(rng, model.input.shape, ROWS).reshape(ROWS, -1)
        else:
            x = random_inputs(rng, model, ROWS)
        (folder / f"m{index}.mnq").write_bytes(container.write(model))
        (folder / f"x{index}.bin").write_bytes(x.tobytes())
        want = reference.run(model, x.reshape(ROWS, *model.input.shape))
        expected.append(np.asarray(want, np.int8).reshape(ROWS, -1))
    return len(found), expected


def check_kernels(stdout: str, kernels=C_KERNELS):
    """The "layers" lines of VM_SCRIPT: each layer ran with kernels[op] (default C_KERNELS)."""
    found, _ = models()
    reported = {}
    for line in stdout.splitlines():
        if line.startswith("layers "):
            index, names = json.loads(line[len("layers ") :])
            reported[index] = names
    assert sorted(reported) == list(range(len(found))), stdout
    for index, model in enumerate(found):
        want = [kernels[layer.op] for layer in model.layers]
        assert reported[index] == want, (index, reported[index], want)


def check_streamed(stdout: str):
    """The "streamed" lines of VM_SCRIPT with weights "stream": every FULLY_CONNECTED and
    CONV_2D layer read its weights from the file in chunks."""
    found, _ = models()
    reported = {}
    for line in stdout.splitlines():
        if line.startswith("streamed "):
            index, count = (int(v) for v in line.split()[1:])
            reported[index] = count
    want = {
        index: sum(layer.op in ("FULLY_CONNECTED", "CONV_2D") for layer in model.layers)
        for index, model in enumerate(found)
    }
    assert reported == want, stdout
    assert sum(want.values()) >= 10


def check_outputs(folder: Path, expected):
    for index, want in enumerate(expected):
        got = np.frombuffer((folder / f"y{index}.bin").read_bytes(), np.int8).reshape(want.shape)
        np.testing.assert_array_equal(got, want, err_msg=f"model {index}")
