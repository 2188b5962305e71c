"""Models of every operator family for running the device package with backend "c" on a VM:
.mnq files, inputs and the reference's outputs, plus the VM script that runs them."""

from pathlib import Path

import numpy as np
from conv_factory import random_chain
from conv_factory import random_inputs as image_inputs
from graph_factory import random_residual_model
from model_factory import random_dense_layer, random_dense_model, random_inputs

from micronn import container, reference
from micronn.model import Model, TensorSpec
from micronn.ops.lookup import prepare_lookup
from micronn.ops.softmax import prepare_softmax

ROWS = 4

VM_SCRIPT = """
import micronn
from array import array

count, backend = {count}, {backend!r}
for index in range(count):
    net = micronn.load("m%d.mnq" % index, backend=backend)
    assert net.backend == backend, net.backend
    n = len(net._x)
    with open("x%d.bin" % index, "rb") as f:
        rows = f.read()
    out = array("b", bytes(len(net._y)))
    result = bytearray()
    for r in range(len(rows) // n):
        net.predict(memoryview(rows)[r * n:(r + 1) * n], out)
        result.extend(bytes(out))
    with open("y%d.bin" % index, "wb") as f:
        f.write(result)
print("ran", count, "models with backend", backend)
"""


def _head(rng, kind, width):
    """A FULLY_CONNECTED layer followed by LOGISTIC / TANH / SOFTMAX."""
    dense = random_dense_layer(rng, width, 12, int(rng.choice([8, 4, 2])), True, "none")
    if kind == "SOFTMAX":
        tail = prepare_softmax((3, 4), float(rng.uniform(0.5, 2)), 0.05, 1.0 / 256, -128)
    else:
        out = {"LOGISTIC": (1.0 / 256, -128), "TANH": (1.0 / 128, 0)}[kind]
        tail = prepare_lookup(kind, 12, 0.05, int(rng.integers(-20, 20)), *out)
    return Model(TensorSpec((width,), 0.5, 0), TensorSpec((12,), 1.0 / 256, -128), [dense, tail])


def models(seed=11):
    rng = np.random.default_rng(seed)
    found = [random_dense_model(rng) for _ in range(4)]
    found += [random_chain(rng) for _ in range(6)]
    found += [random_residual_model(rng) for _ in range(3)]
    found += [_head(rng, kind, 9) for kind in ("LOGISTIC", "TANH", "SOFTMAX")]
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


def check_outputs(folder: Path, expected):
    for index, want in enumerate(expected):
        got = np.frombuffer((folder / f"y{index}.bin").read_bytes(), np.int8).reshape(want.shape)
        np.testing.assert_array_equal(got, want, err_msg=f"model {index}")
