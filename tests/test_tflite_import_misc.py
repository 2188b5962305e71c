""".tflite import of ADD, LOGISTIC, TANH and SOFTMAX: random parameters end to end against TFLM,
graphs that reshape or branch, and the models micronn refuses (with a message naming the op)."""

import numpy as np
import pytest
import tflm_models as tm

from micronn import reference
from micronn.importers.tflite import import_tflite


def _check_against_tflm(model_bytes, *inputs):
    model = import_tflite(model_bytes, "sweep.tflite")
    expected = tm.run(model_bytes, *inputs)
    if len(inputs) == 1:
        got = reference.run(model, inputs[0].reshape(len(inputs[0]), *model.input.shape))
        np.testing.assert_array_equal(got.reshape(expected.shape), expected)
    return model


def _scale(rng, low=-3.0, high=0.5):
    return float(np.float32(10 ** rng.uniform(low, high)))


@pytest.mark.parametrize("op", ["LOGISTIC", "TANH"])
def test_random_lookups_import_bit_exact(op):
    rng = np.random.default_rng(31 if op == "TANH" else 32)
    out = (1 / 256, -128) if op == "LOGISTIC" else (1 / 128, 0)
    for _ in range(20):
        size = int(rng.integers(1, 50))
        model_bytes = tm.lookup_model(op, size, _scale(rng), int(rng.integers(-128, 128)), *out)
        _check_against_tflm(model_bytes, rng.integers(-128, 128, (4, size)).astype(np.int8))


def test_random_softmaxes_import_bit_exact():
    rng = np.random.default_rng(33)
    for _ in range(20):
        shape = tuple(int(d) for d in rng.integers(1, 6, int(rng.integers(1, 4))))
        beta = float(np.float32(rng.uniform(0.2, 3)))
        model_bytes = tm.softmax_model(shape, beta, _scale(rng), int(rng.integers(-128, 128)))
        _check_against_tflm(model_bytes, rng.integers(-128, 128, (4, *shape)).astype(np.int8))


def _residual_tanh(rng, activation):
    """x -> TANH -> ADD(x, tanh(x)): an ADD of the model input and a computed tensor."""
    size = 12
    in_scale, in_zp = _scale(rng), int(rng.integers(-128, 128))
    tensors = [
        ((1, size), in_scale, in_zp),
        ((1, size), 1 / 128, 0),
        ((1, size), _scale(rng, -2, 0.5), int(rng.integers(-128, 128))),
    ]
    fused = tm.options("AddOptions", fusedActivationFunction=tm.ACTIVATIONS[activation])
    operators = [("TANH", [0], [1], None), ("ADD", [0, 1], [2], fused)]
    return tm.graph_model(tensors, operators, [0], [2]), size


@pytest.mark.parametrize("activation", ["none", "relu", "relu6"])
def test_a_residual_add_imports_bit_exact(activation):
    rng = np.random.default_rng(34 + len(activation))
    for _ in range(10):
        model_bytes, size = _residual_tanh(rng, activation)
        model = _check_against_tflm(model_bytes, rng.integers(-128, 128, (6, size)).astype(np.int8))
        assert [layer.op for layer in model.layers] == ["TANH", "ADD"]
        assert model.layers[1].inputs == (0, 1)


def test_softmax_after_a_reshape_normalises_the_reshaped_last_axis():
    """[1, 6] -> RESHAPE [1, 2, 3] -> SOFTMAX: depth 3, though the activation is stored as (6,)."""
    tensors = [
        ((1, 6), 0.1, 0),
        ((3,), None, None, np.array([1, 2, 3], np.int32)),
        ((1, 2, 3), 0.1, 0),
        ((1, 2, 3), 1 / 256, -128),
    ]
    reshape = tm.options("ReshapeOptions", newShape=[1, 2, 3])
    operators = [
        ("RESHAPE", [0, 1], [2], reshape),
        ("SOFTMAX", [2], [3], tm.options("SoftmaxOptions", beta=1.0)),
    ]
    model_bytes = tm.graph_model(tensors, operators, [0], [3])
    x = np.random.default_rng(35).integers(-128, 128, (5, 6)).astype(np.int8)
    model = import_tflite(model_bytes)
    layer = model.layers[0]
    assert (layer.rows, layer.depth) == (2, 3)
    expected = tm.run(model_bytes, x)
    np.testing.assert_array_equal(reference.run(model, x).reshape(expected.shape), expected)


def test_an_add_of_a_constant_becomes_a_constant_layer_and_add():
    """(tests/test_ops_add_broadcast.py has the broadcasting ADD of two computed tensors)"""
    tensors = [((1, 4), 0.1, 0), ((1, 4), 0.1, 0, np.arange(4, dtype=np.int8)), ((1, 4), 0.2, 0)]
    fused = tm.options("AddOptions", fusedActivationFunction=0)
    model_bytes = tm.graph_model(tensors, [("ADD", [0, 1], [2], fused)], [0], [2])
    model = import_tflite(model_bytes)
    assert [layer.op for layer in model.layers] == ["CONSTANT", "ADD"]
    x = np.arange(-128, 128, 8, dtype=np.int8).reshape(8, 4)
    np.testing.assert_array_equal(reference.run(model, x), tm.run(model_bytes, x))


@pytest.mark.parametrize(
    ("op", "output", "message"),
    [
        ("TANH", (1 / 128, -3), "TANH.*fixed output parameters"),
        ("LOGISTIC", (1 / 128, -128), "LOGISTIC.*fixed output parameters"),
        ("SOFTMAX", (1 / 128, -128), "SOFTMAX.*output scale 1/256"),
    ],
)
def test_unusual_output_parameters_are_refused(op, output, message):
    model_bytes = tm.single_op_model(op, [((1, 4), 0.1, 0), ((1, 4), *output)])
    with pytest.raises(ValueError, match=message):
        import_tflite(model_bytes)
