"""MUL: random shapes (broadcasting and constant operands), scales, zero points and fused
activations, imported from .tflite and run by the reference, the device kernels and TFLM."""

import numpy as np
import pytest
import tflm_models
from backend_vm import run_backends

from micronn import container, reference
from micronn.container_rules import ContainerError
from micronn.importers.tflite import import_tflite
from micronn.ops import mul

ACTIVATIONS = ("none", "relu", "relu6")
SHAPE_PAIRS = (
    ((1, 6, 5, 4), (1, 6, 5, 4)),
    ((1, 6, 5, 4), (1, 1, 1, 4)),  # per channel, as a squeeze-and-excite block
    ((1, 1, 5, 1), (1, 6, 1, 4)),  # both broadcast
    ((1, 8), (1, 1)),  # a scalar
    ((1, 3, 4), (1, 1, 4)),
)


def _quantization(rng, case):
    s1, s2 = (float(np.float32(10 ** rng.uniform(-3, 0.5))) for _ in range(2))
    so = float(np.float32(s1 * s2 * 10 ** rng.uniform(-0.5, 2.5)))
    z1, z2, zo = (int(v) for v in rng.integers(-128, 128, 3))
    return (s1, z1), (s2, z2), (so, zo), ACTIVATIONS[case % 3]


def _broadcast_shape(shape1, shape2):
    return tuple(np.broadcast_shapes(shape1, shape2))


def mul_model(shape1, shape2, input1, input2, output, activation, constant=None) -> bytes:
    """MUL of the model input (shape1) and an int8 constant (shape2), or of the input and
    itself (constant None)."""
    fused = tflm_models.options(
        "MulOptions", fusedActivationFunction=tflm_models.ACTIVATIONS[activation]
    )
    if constant is None:
        tensors = [(shape1, *input1), (shape1, *output)]
        return tflm_models.graph_model(tensors, [("MUL", [0, 0], [1], fused)], [0], [1])
    tensors = [(shape1, *input1), (shape2, *input2, constant)]
    tensors.append((_broadcast_shape(shape1, shape2), *output))
    return tflm_models.graph_model(tensors, [("MUL", [0, 1], [2], fused)], [0], [2])


def _cases(rng, count, constant_every=2):
    for case in range(count):
        shape1, shape2 = SHAPE_PAIRS[case % len(SHAPE_PAIRS)]
        if case % 4 == 3:
            shape1, shape2 = shape2, shape1
        input1, input2, output, activation = _quantization(rng, case)
        constant = None
        if case % constant_every == 1:
            constant = rng.integers(-128, 128, shape2).astype(np.int8)
        yield shape1, shape2, input1, input2, output, activation, constant


def _inputs(rng, shape1, samples=3):
    x = rng.integers(-128, 128, (samples, *shape1[1:])).astype(np.int8)
    flat = x.reshape(samples, -1)
    flat[0, 0], flat[-1, -1] = -128, 127
    return x


def test_matches_tflm_over_random_shapes_scales_and_zero_points():
    rng = np.random.default_rng(31)
    refused = 0
    for case, (shape1, shape2, *quantization, activation, constant) in enumerate(_cases(rng, 200)):
        data = mul_model(shape1, shape2, *quantization, activation, constant)
        x = _inputs(rng, shape1)
        try:
            model = import_tflite(data, f"mul{case}.tflite")
        except ValueError as error:
            assert "31-bit" in str(error)
            refused += 1
            continue
        expected = tflm_models.run(data, x)
        got = reference.run(model, x.reshape(len(x), -1))
        np.testing.assert_array_equal(
            got.reshape(expected.shape), expected, err_msg=f"case {case}: {quantization}"
        )
    assert refused < 20


def test_hand_derived_rounding():
    # s1 * s2 / so = 1/2: out = a * b / 2 rounded as SaturatingRoundingDoublingHighMul
    # rounds, half up: 1.5 -> 2, -1.5 -> -1
    layer = mul.prepare_mul((1, 4), (1, 4), (0.5, 0), (1.0, 0), (1.0, 0))
    assert (layer.output_multiplier, layer.output_shift) == (2**30, 0)
    a = np.array([[3, -3, 5, 127]], np.int8)
    b = np.array([[1, 1, 1, 2]], np.int8)
    np.testing.assert_array_equal(mul.evaluate(layer, [a, b], (4,)), [[2, -1, 3, 127]])


def test_a_multiplier_that_would_leave_31_bits_is_refused():
    with pytest.raises(ValueError, match="31-bit"):
        mul.prepare_mul((1, 4), (1, 4), (1.0, 0), (1.0, 0), (2.0**-15, 0))


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("output_shift", 15, "must be <= 14"),
        ("input2_stride3", 5, "strides reach"),
        ("out_dim3", 9, "output tensor size"),
        ("input1_zero_point", 128, "input1_zero_point"),
    ],
)
def test_container_rules_refuse(key, value, message):
    rng = np.random.default_rng(32)
    shape1, shape2 = (1, 6, 5, 4), (1, 1, 1, 4)
    constant = rng.integers(-128, 128, shape2).astype(np.int8)
    model = import_tflite(
        mul_model(shape1, shape2, (0.1, 0), (0.02, 0), (0.01, 3), "none", constant), "m.tflite"
    )
    layer = next(layer for layer in model.layers if layer.op == "MUL")
    layer.params[key] = value
    with pytest.raises(ContainerError, match=message):
        container.write(model)


def test_device_backends_give_the_reference_integers(tmp_path):
    rng = np.random.default_rng(33)
    models, inputs = [], []
    for shape1, shape2, *quantization, activation, constant in _cases(rng, 12, constant_every=1):
        try:
            model = import_tflite(
                mul_model(shape1, shape2, *quantization, activation, constant), "m.tflite"
            )
        except ValueError:
            continue
        models.append(model)
        inputs.append(_inputs(rng, shape1, samples=4).reshape(4, -1))
    assert len(models) >= 8
    available, modules, _ = run_backends(models, inputs, tmp_path, ("python", "viper", "c"))
    # the c backend runs MUL with _micronn.mul; CONSTANT has no C or viper kernel
    expected = {
        "python": {"MUL": "python_broadcast", "CONSTANT": "python_constant"},
        "viper": {"MUL": "viper_broadcast", "CONSTANT": "python_constant"},
        "c": {"MUL": "_micronn.mul", "CONSTANT": "python_constant"},
    }
    for (index, backend), names in modules.items():
        want = [expected[backend][layer.op] for layer in models[index].layers]
        assert names == want, (index, backend, names)
    assert "viper" in available
