"""The element-wise operators with broadcasting in the float path: Keras Multiply, Subtract,
Maximum, Minimum, PReLU; ONNX Mul, Sub, Max, Min, PRelu (and Add of a constant that is no bias);
float .tflite MUL, SUB, MAXIMUM, MINIMUM, PRELU and ADD with constant operands. Each float graph
computes what the framework computes, and the quantized model stays close to it."""

import io
import json
import zipfile

import numpy as np
import pytest
from float_tflite_zoo import tflm_float_outputs
from tflite_builder import Op, T, build_tflite

from micronn import reference
from micronn.graph_builder import GraphBuilder
from micronn.importers.tflite import read_tflite
from micronn.importers.tflite.float_graph import float_graph
from micronn.plan import quantize_network

RNG = np.random.default_rng(17)


def _quantized_error(model, graph, x) -> float:
    """max |quantized - float| in units of the output scale."""
    floats = graph.predict(x)
    codes = reference.run(model, reference.quantize_input(model, x))
    quantized = reference.dequantize_output(model, codes).reshape(floats.shape)
    return float(np.abs(quantized - floats).max() / model.output.scale)


def test_maximum_and_minimum_share_one_quantization_of_inputs_and_output():
    b = GraphBuilder((4, 3))
    half = b.binary("mul", b.input, b.constant([0.5]))
    top = b.binary("maximum", b.input, half)  # a leaky relu written out, as face_landmarks
    low = b.binary("minimum", top, b.constant(np.float32([1.0, 2.0, 3.0])))
    graph = b.build(low)
    x = RNG.normal(0, 2, (64, 4, 3)).astype(np.float32)
    model = quantize_network(graph, x)
    assert [layer.op for layer in model.layers] == [
        "CONSTANT", "MUL", "MAXIMUM", "CONSTANT", "MINIMUM",
    ]  # fmt: skip
    edges = model.input, model.output
    assert len({(edge.scale, edge.zero_point) for edge in edges}) == 1  # one group of tensors
    assert _quantized_error(model, graph, x[:16]) <= 2


# ------------------------------------------------------------------ Keras


def _keras_layer(kind, name, inbound, **config):
    nodes = [[[source, 0, 0, {}] for source in inbound]] if inbound else []
    return {"class_name": kind, "config": {"name": name, **config}, "inbound_nodes": nodes}


def _write_functional(path, layers, weights, output):
    h5py = pytest.importorskip("h5py")
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        for key, arrays in weights.items():
            group = handle.create_group(f"layers/{key}/vars")
            for index, array in enumerate(arrays):
                group.create_dataset(str(index), data=array)
    config = {
        "class_name": "Functional",
        "config": {
            "name": "m",
            "layers": layers,
            "input_layers": [[layers[0]["config"]["name"], 0, 0]],
            "output_layers": [[output, 0, 0]],
        },
    }
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        archive.writestr("model.weights.h5", buffer.getvalue())
    return path


def test_keras_multiply_subtract_maximum_minimum_and_prelu(tmp_path):
    from micronn.importers.keras import load_keras

    kernel = RNG.normal(0, 0.5, (3, 3, 2, 4)).astype(np.float32)
    pointwise = RNG.normal(0, 0.5, (1, 1, 4, 4)).astype(np.float32)
    alpha = RNG.uniform(0.05, 0.4, (1, 1, 4)).astype(np.float32)  # shared_axes [1, 2]
    conv = {"strides": [1, 1], "padding": "same", "dilation_rate": [1, 1], "use_bias": False}
    layers = [
        _keras_layer("InputLayer", "x", [], batch_shape=[None, 6, 5, 2]),
        _keras_layer("Conv2D", "c", ["x"], filters=4, kernel_size=[3, 3], **conv),
        _keras_layer("PReLU", "p", ["c"], shared_axes=[1, 2]),
        _keras_layer("Conv2D", "d", ["p"], filters=4, kernel_size=[1, 1], **conv),
        _keras_layer("Multiply", "m", ["p", "d"]),
        _keras_layer("Subtract", "s", ["m", "c"]),
        _keras_layer("Maximum", "hi", ["s", "d"]),
        _keras_layer("Minimum", "lo", ["hi", "c"]),
    ]
    weights = {"conv2d": [kernel], "p_re_lu": [alpha], "conv2d_1": [pointwise]}
    graph = load_keras(_write_functional(tmp_path / "m.keras", layers, weights, "lo"))
    assert [node.op for node in graph.nodes] == [
        "conv2d", "constant", "prelu", "conv2d", "mul", "sub", "maximum", "minimum",
    ]  # fmt: skip
    x = RNG.normal(0, 1, (64, 6, 5, 2)).astype(np.float32)
    values = graph.forward_all(x[:4])
    c = values[1]
    p = np.where(c >= 0, c, c * alpha)
    d = np.einsum("bhwi,io->bhwo", p, pointwise[0, 0])
    expected = np.minimum(np.maximum(p * d - c, d), c)
    np.testing.assert_allclose(values[graph.output], expected, rtol=1e-5, atol=1e-5)
    model = quantize_network(graph, x)
    assert [layer.op for layer in model.layers] == [
        "CONV_2D", "CONSTANT", "PRELU", "CONV_2D", "MUL", "SUB", "MAXIMUM", "MINIMUM",
    ]  # fmt: skip
    assert _quantized_error(model, graph, x[:16]) <= 8


# ------------------------------------------------------------------ ONNX


def test_onnx_mul_sub_max_min_prelu_and_a_constant_add(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper
    from onnx.reference import ReferenceEvaluator

    from micronn.importers.onnx import load_onnx

    def constant(name, value):
        return numpy_helper.from_array(np.asarray(value, np.float32), name)

    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("PRelu", ["c", "slope"], ["p"], name="prelu"),
        helper.make_node("Mul", ["p", "gain"], ["m"], name="mul"),
        helper.make_node("Sub", ["offset", "m"], ["s"], name="sub"),  # constant first
        helper.make_node("Max", ["s", "c"], ["hi"], name="max"),
        helper.make_node("Min", ["hi", "cap"], ["lo"], name="min"),
        helper.make_node("Add", ["lo", "row"], ["y"], name="add"),  # no bias: a broadcast add
    ]
    initializers = [
        constant("w", RNG.normal(0, 0.5, (4, 2, 3, 3))),
        constant("slope", RNG.uniform(0.05, 0.4, (4, 1, 1))),  # PyTorch's nn.PReLU(4)
        constant("gain", RNG.uniform(0.5, 2, (1, 4, 1, 1))),
        constant("offset", [0.25]),
        constant("cap", [[[1.5]]]),
        constant("row", RNG.normal(0, 1, (1, 5))),  # along the width
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2, 6, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4, 6, 5])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    x = RNG.normal(0, 1, (64, 2, 6, 5)).astype(np.float32)
    expected = ReferenceEvaluator(model).run(None, {"x": x[:8]})[0]
    graph = load_onnx(path)
    channels_last = x.transpose(0, 2, 3, 1)
    got = graph.predict(channels_last[:8]).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    quantized = quantize_network(graph, channels_last)
    assert [layer.op for layer in quantized.layers] == [
        "CONV_2D", "CONSTANT", "PRELU", "CONSTANT", "MUL", "CONSTANT", "SUB", "MAXIMUM",
        "CONSTANT", "MINIMUM", "CONSTANT", "ADD_BROADCAST",
    ]  # fmt: skip
    assert _quantized_error(quantized, graph, channels_last[:16]) <= 8


# ------------------------------------------------------------------ float .tflite


def test_float_tflite_mul_sub_maximum_minimum_prelu_and_add_of_constants():
    image = (1, 4, 3, 2)
    tensors = [
        T("x", image, "FLOAT32"),
        T("alpha", (1, 1, 2), "FLOAT32", np.float32([[[0.1, 0.3]]])),
        T("prelu", image, "FLOAT32"),
        T("gain", (2,), "FLOAT32", np.float32([0.5, 2.0])),
        T("mul", image, "FLOAT32"),
        T("offset", (1, 1, 1, 1), "FLOAT32", np.float32([[[[0.2]]]])),
        T("sub", image, "FLOAT32"),
        T("max", image, "FLOAT32"),
        T("cap", (3, 1), "FLOAT32", np.float32([[1.0], [0.5], [2.0]])),
        T("min", image, "FLOAT32"),
        T("bias", (1, 4, 3, 2), "FLOAT32", RNG.normal(0, 1, image).astype(np.float32)),
        T("add", image, "FLOAT32"),
    ]
    operators = [
        Op("PRELU", (0, 1), (2,)),
        Op("MUL", (2, 3), (4,)),
        Op("SUB", (5, 4), (6,)),
        Op("MAXIMUM", (6, 0), (7,)),
        Op("MINIMUM", (7, 8), (9,)),
        Op("ADD", (9, 10), (11,)),
    ]
    data = build_tflite(tensors, operators, (0,), (11,))
    graph = float_graph(read_tflite(data, "m.tflite"))
    x = RNG.normal(0, 1, (64, 4, 3, 2)).astype(np.float32)
    np.testing.assert_allclose(
        graph.predict(x[:8]), tflm_float_outputs(data, x[:8]), rtol=1e-5, atol=1e-6
    )
    model = quantize_network(graph, x)
    assert [layer.op for layer in model.layers if layer.op != "CONSTANT"] == [
        "PRELU", "MUL", "SUB", "MAXIMUM", "MINIMUM", "ADD",
    ]  # fmt: skip
    assert _quantized_error(model, graph, x[:16]) <= 8
