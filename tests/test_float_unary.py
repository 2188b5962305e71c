"""Float layers that become LOOKUP tables (Keras LeakyReLU, ReLU with a slope / threshold /
max_value, hard_swish, leaky_relu; ONNX LeakyRelu, HardSwish, Clip, a standalone Relu; float
.tflite HARD_SWISH, LEAKY_RELU, RELU_N1_TO_1) and Keras Rescaling: the float graph computes the
framework's function and the quantized model stays close to it."""

import numpy as np
import pytest
from float_tflite_zoo import tflm_float_outputs
from test_float_import_keras import _input, _layer, write_keras
from tflite_builder import Op, T, build_tflite

from micronn import float_ops, reference
from micronn.convert import convert_to_model
from micronn.importers.keras import load_keras
from micronn.importers.tflite import read_tflite
from micronn.importers.tflite.float_graph import float_graph
from micronn.ops.unary import source_name

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

RNG = np.random.default_rng(60)


@pytest.fixture(autouse=True)
def _same_random_values_in_any_order():
    global RNG
    RNG = np.random.default_rng(60)


def _quantized(path, x, calibration):
    model = convert_to_model(path, calibration=calibration)
    codes = reference.run(model, reference.quantize_input(model, x))
    return model, reference.dequantize_output(model, codes)


def _sources(model):
    return [
        source_name(layer.params["source"]) if layer.op == "LOOKUP" else layer.op
        for layer in model.layers
    ]


def _assert_close(quantized, floats, fraction=0.05):
    """The largest error within a few percent of the float outputs' span."""
    error = np.abs(quantized.reshape(floats.shape) - floats).max()
    span = float(floats.max() - floats.min())
    assert error <= fraction * span, (error, span)


def _dense_keras(tmp_path, middle, name="m.keras", features=6, units=5):
    kernel = RNG.normal(0, 0.5, (features, units)).astype(np.float32)
    bias = RNG.normal(0, 0.3, units).astype(np.float32)
    layers = [
        _input((features,)),
        _layer("Dense", "d", units=units, activation="linear", use_bias=True),
        *middle,
    ]
    path = write_keras(tmp_path / name, layers, {"dense": [kernel, bias]})
    return path, kernel, bias


KERAS_CASES = {
    "LeakyReLU": (
        [_layer("LeakyReLU", "leaky", negative_slope=0.1)],
        lambda y: np.where(y > 0, y, 0.1 * y),
        ["FULLY_CONNECTED", "LEAKY_RELU"],
    ),
    "LeakyReLU keras 2": (
        [_layer("LeakyReLU", "leaky", alpha=0.25)],
        lambda y: np.where(y > 0, y, 0.25 * y),
        ["FULLY_CONNECTED", "LEAKY_RELU"],
    ),
    "ReLU slope threshold max": (
        [_layer("ReLU", "r", negative_slope=0.2, threshold=0.1, max_value=1.5)],
        lambda y: np.minimum(np.where(y >= 0.1, y, 0.2 * (y - 0.1)), 1.5),
        ["FULLY_CONNECTED", "KERAS_RELU"],
    ),
    "hard_swish": (
        [_layer("Activation", "a", activation="hard_swish")],
        lambda y: y * np.clip(y + 3, 0, 6) / 6,
        ["FULLY_CONNECTED", "HARD_SWISH"],
    ),
    "leaky_relu activation": (
        [_layer("Activation", "a", activation="leaky_relu")],
        lambda y: np.where(y > 0, y, 0.2 * y),
        ["FULLY_CONNECTED", "LEAKY_RELU"],
    ),
}


@pytest.mark.parametrize("case", KERAS_CASES)
def test_keras_layers(tmp_path, case):
    middle, function, ops = KERAS_CASES[case]
    path, kernel, bias = _dense_keras(tmp_path, middle)
    x = RNG.normal(0, 2, (64, 6)).astype(np.float32)
    floats = load_keras(path).predict(x)
    np.testing.assert_allclose(floats, function(x @ kernel + bias), rtol=1e-5, atol=1e-5)
    model, quantized = _quantized(path, x, x)
    assert _sources(model) == ops
    _assert_close(quantized, floats)


def test_keras_rescaling_first_folds_into_the_input_quantization(tmp_path):
    layers = [
        _input((4, 4, 2)),
        _layer("Rescaling", "rescale", scale=1 / 127.5, offset=-1.0),
        _layer("Flatten", "f"),
        _layer("Dense", "d", units=3, activation="linear", use_bias=True),
    ]
    kernel = RNG.normal(0, 0.3, (32, 3)).astype(np.float32)
    bias = np.float32([0.1, 0.0, -0.1])
    path = write_keras(tmp_path / "r.keras", layers, {"dense": [kernel, bias]})
    x = RNG.uniform(0, 255, (40, 4, 4, 2)).astype(np.float32)
    floats = load_keras(path).predict(x)
    np.testing.assert_allclose(floats, (x / 127.5 - 1).reshape(40, -1) @ kernel + bias, atol=1e-4)
    model, quantized = _quantized(path, x, x)
    assert [layer.op for layer in model.layers] == ["FULLY_CONNECTED"]
    # the input takes pixel values: about one pixel value per code, from near -128
    assert model.input.scale == pytest.approx(1.0, rel=0.02)
    assert model.input.zero_point <= -120
    _assert_close(quantized, floats)


def test_keras_rescaling_in_the_middle_is_a_scale_shift(tmp_path):
    kernel = RNG.normal(0, 0.5, (6, 5)).astype(np.float32)
    bias = RNG.normal(0, 0.3, 5).astype(np.float32)
    kernel2 = RNG.normal(0, 0.5, (5, 2)).astype(np.float32)
    path = write_keras(
        tmp_path / "m.keras",
        [
            _input((6,)),
            _layer("Dense", "d", units=5, activation="relu", use_bias=True),
            _layer("Rescaling", "rescale", scale=0.5, offset=0.25),
            _layer("Dense", "d2", units=2, activation="linear", use_bias=True),
        ],
        {"dense": [kernel, bias], "dense_1": [kernel2, np.zeros(2, np.float32)]},
    )
    x = RNG.normal(0, 1, (50, 6)).astype(np.float32)
    floats = load_keras(path).predict(x)
    expected = (np.maximum(x @ kernel + bias, 0) * 0.5 + 0.25) @ kernel2
    np.testing.assert_allclose(floats, expected, rtol=1e-5, atol=1e-5)
    model, quantized = _quantized(path, x, x)
    assert [layer.op for layer in model.layers] == ["FULLY_CONNECTED"] * 3
    _assert_close(quantized, floats)


def _onnx_path(tmp_path, nodes, initializers=()):
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
        list(initializers),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    return path, model


ONNX_CASES = {
    "LeakyRelu": ([helper.make_node("LeakyRelu", ["h"], ["a"], alpha=0.05)], [], "LEAKY_RELU"),
    "HardSwish": ([helper.make_node("HardSwish", ["h"], ["a"])], [], "HARD_SWISH"),
    "Clip": (
        [helper.make_node("Clip", ["h", "lo", "hi"], ["a"])],
        [
            numpy_helper.from_array(np.float32(-1), "lo"),
            numpy_helper.from_array(np.float32(2), "hi"),
        ],
        "CLIP",
    ),
}


@pytest.mark.parametrize("case", ONNX_CASES)
def test_onnx_nodes(tmp_path, case):
    from micronn.importers.onnx import load_onnx

    middle, constants, source = ONNX_CASES[case]
    w1 = numpy_helper.from_array(RNG.normal(0, 1, (6, 5)).astype(np.float32), "w1")
    w2 = numpy_helper.from_array(RNG.normal(0, 0.5, (5, 4)).astype(np.float32), "w2")
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h"]),
        *middle,
        helper.make_node("MatMul", ["a", "w2"], ["y"]),
    ]
    path, onnx_model = _onnx_path(tmp_path, nodes, [w1, w2, *constants])
    x = RNG.normal(0, 1.5, (64, 6)).astype(np.float32)
    expected = ReferenceEvaluator(onnx_model).run(None, {"x": x})[0]
    floats = load_onnx(path).predict(x)
    np.testing.assert_allclose(floats, expected, rtol=1e-4, atol=1e-5)
    model, quantized = _quantized(path, x, x)
    assert _sources(model) == ["FULLY_CONNECTED", source, "FULLY_CONNECTED"]
    _assert_close(quantized, floats)


def test_onnx_relu_on_the_input_is_a_lookup_layer(tmp_path):
    from micronn.importers.onnx import load_onnx

    w = numpy_helper.from_array(RNG.normal(0, 1, (6, 4)).astype(np.float32), "w")
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("MatMul", ["r", "w"], ["y"])]
    path, _ = _onnx_path(tmp_path, nodes, [w])
    x = RNG.normal(0, 1, (40, 6)).astype(np.float32)
    floats = load_onnx(path).predict(x)
    model, quantized = _quantized(path, x, x)
    assert _sources(model) == ["RELU", "FULLY_CONNECTED"]
    _assert_close(quantized, floats)


@pytest.mark.parametrize("op", ["HARD_SWISH", "LEAKY_RELU", "RELU_N1_TO_1"])
def test_float_tflite_ops_compute_what_tflm_computes(tmp_path, op):
    weight = RNG.normal(0, 1, (4, 3)).astype(np.float32)
    tensors = [
        T("x", (1, 3), "FLOAT32"),
        T("w", (4, 3), "FLOAT32", weight),
        T("b", (4,), "FLOAT32", np.float32([0.5, -0.5, 0.0, 0.2])),
        T("fc", (1, 4), "FLOAT32"),
        T("y", (1, 4), "FLOAT32"),
    ]
    options = {"alpha": 0.15} if op == "LEAKY_RELU" else None
    operators = [Op("FULLY_CONNECTED", (0, 1, 2), (3,)), Op(op, (3,), (4,), options)]
    data = build_tflite(tensors, operators, (0,), (4,))
    x = RNG.normal(0, 1.5, (32, 3)).astype(np.float32)
    floats = float_graph(read_tflite(data, "m.tflite")).predict(x)
    if op == "RELU_N1_TO_1":  # TFLM has no RELU_N1_TO_1 kernel
        expected = np.clip(x @ weight.T + np.float32([0.5, -0.5, 0.0, 0.2]), -1, 1)
    else:
        expected = tflm_float_outputs(data, x).reshape(floats.shape)
    np.testing.assert_allclose(floats, expected, rtol=1e-5, atol=1e-5)
    path = tmp_path / "m.tflite"
    path.write_bytes(data)
    model, quantized = _quantized(path, x, x)
    expected_source = "CLIP" if op == "RELU_N1_TO_1" else op
    assert _sources(model) == ["FULLY_CONNECTED", expected_source]
    _assert_close(quantized, floats)


def test_float_functions():
    x = np.float32([-4, -3, -1, 0, 1, 3, 4])
    np.testing.assert_allclose(float_ops.hard_swish(x), [0, 0, -1 / 3, 0, 2 / 3, 3, 4], atol=1e-6)
    np.testing.assert_allclose(
        float_ops.relu_x(x, 0.5, 1.0, 3.5), [-2.5, -2, -1, -0.5, 1, 3, 3.5], atol=1e-6
    )
    np.testing.assert_allclose(float_ops.clip(x, None, 1), [-4, -3, -1, 0, 1, 1, 1])
