"""Single-op .tflite models of the element-wise operators with broadcasting (SUB, ADD, MAXIMUM,
MINIMUM, PRELU): the model input against an int8 constant (either side) or against itself, with
random shapes, scales and zero points; run by micronn and by TFLM."""

import numpy as np
import tflm_models

from micronn import reference
from micronn.importers.tflite import import_tflite

ACTIVATIONS = ("none", "relu", "relu6")
SHAPE_PAIRS = (
    ((1, 6, 5, 4), (1, 6, 5, 4)),
    ((1, 6, 5, 4), (1, 1, 1, 4)),  # per channel
    ((1, 1, 5, 1), (1, 6, 1, 4)),  # both broadcast
    ((1, 8), (1, 1)),  # a scalar
    ((1, 3, 4), (4,)),  # lower rank
    ((1, 4, 3, 2), (1, 3, 2)),
)
OPTIONS = {"SUB": "SubOptions", "ADD": "AddOptions", "MUL": "MulOptions"}


def broadcast_shape(shape1, shape2):
    return tuple(np.broadcast_shapes(shape1, shape2))


def binary_model(op, shape1, shape2, q1, q2, q_out, activation="none", constant=None, first=False):
    """op of the model input (shape1, q1) and an int8 constant (shape2, q2), the constant first
    when `first`; with constant None, op of the input and itself (q2 and shape2 unused)."""
    fused = None
    if op in OPTIONS:
        fused = tflm_models.options(
            OPTIONS[op], fusedActivationFunction=tflm_models.ACTIVATIONS[activation]
        )
    if constant is None:
        tensors = [(shape1, *q1), (shape1, *q_out)]
        return tflm_models.graph_model(tensors, [(op, [0, 0], [1], fused)], [0], [1])
    tensors = [(shape1, *q1), (shape2, *q2, constant), (broadcast_shape(shape1, shape2), *q_out)]
    operands = [1, 0] if first else [0, 1]
    return tflm_models.graph_model(tensors, [(op, operands, [2], fused)], [0], [2])


def inputs(rng, shape, samples=3):
    x = rng.integers(-128, 128, (samples, *shape[1:])).astype(np.int8)
    flat = x.reshape(samples, -1)
    flat[0, 0], flat[-1, -1] = -128, 127
    return x


def scales(rng, count, low=-3, high=0.5):
    return [float(np.float32(10 ** rng.uniform(low, high))) for _ in range(count)]


def zero_points(rng, count):
    return [int(v) for v in rng.integers(-128, 128, count)]


def cases(rng, count, op="SUB", constant_every=2, same_quantization=False):
    """(op, shape1, shape2, q1, q2, q_out, activation, constant, first) for binary_model."""
    for case in range(count):
        shape1, shape2 = SHAPE_PAIRS[case % len(SHAPE_PAIRS)]
        if case % 4 == 3:
            shape1, shape2 = shape2, shape1
        if len(shape1) == 1:
            shape1, shape2 = shape2, shape1  # the model input keeps its batch
        s1, s2 = scales(rng, 2)
        so = float(np.float32(max(s1, s2) * 10 ** rng.uniform(-0.7, 1.3)))
        z1, z2, zo = zero_points(rng, 3)
        constant = None
        if case % constant_every == 1 or shape1 != shape2:
            constant = rng.integers(-128, 128, shape2).astype(np.int8)
        first = bool(case % 3 == 2)
        quantization = ((s1, z1), (s2, z2), (so, zo))
        if same_quantization:
            quantization = ((s1, z1),) * 3
        yield (
            op,
            shape1,
            shape2,
            *quantization,
            ACTIVATIONS[case % 3] if op in OPTIONS else "none",
            constant,
            first,
        )


def check_against_tflm(op, seed, count=150, same_quantization=False):
    """Random cases of op imported by micronn and run by the reference equal TFLM's outputs;
    returns the micronn operators the layers used."""
    rng = np.random.default_rng(seed)
    used = set()
    for case, spec in enumerate(cases(rng, count, op, same_quantization=same_quantization)):
        data = binary_model(*spec)
        x = inputs(rng, spec[1])
        model = import_tflite(data, f"{op}{case}.tflite")
        used.update(layer.op for layer in model.layers)
        expected = tflm_models.run(data, x)
        got = reference.run(model, x.reshape(len(x), -1))
        np.testing.assert_array_equal(got.reshape(expected.shape), expected, err_msg=f"{spec}")
    return used


def device_models(op, seed, count=12, same_quantization=False):
    """Models and input rows for tests/backend_vm.run_backends."""
    rng = np.random.default_rng(seed)
    models, rows = [], []
    for spec in cases(rng, count, op, 1, same_quantization):
        models.append(import_tflite(binary_model(*spec), "m.tflite"))
        rows.append(inputs(rng, spec[1], samples=4).reshape(4, -1))
    return models, rows


PYTHON_ON_VIPER = ("SUB", "ADD_BROADCAST", "PRELU")  # viper_broadcast.OPS lacks them


def check_backend_modules(models, modules, op):
    """Each backend ran op with its module: viper_broadcast for MAXIMUM / MINIMUM, the python
    module for the others (viper_broadcast.OPS), kernels_c with the c backend."""
    viper = "python_broadcast" if op in PYTHON_ON_VIPER else "viper_broadcast"
    wanted = {"python": "python_broadcast", "viper": viper, "c": "kernels_c"}
    for (index, backend), names in modules.items():
        ops = [layer.op for layer in models[index].layers]
        assert names[ops.index(op)] == wanted[backend], (backend, names)
