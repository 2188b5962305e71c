"""The float graph (micronn.graph) and its post-training quantization (micronn.plan)."""

import numpy as np
import pytest

from micronn import reference
from micronn.graph_builder import GraphBuilder
from micronn.plan import quantize_network

RNG = np.random.default_rng(4)


def _conv(builder, x, out_channels, kernel=3, activation="none", **window):
    in_channels = builder.shape(x)[-1]
    weight = RNG.normal(0, 0.4, (out_channels, kernel, kernel, in_channels))
    bias = RNG.normal(0, 0.1, out_channels)
    return builder.conv2d(x, weight, bias, activation=activation, **window)


def _every_op_graph():
    """conv, depthwise, both pools, add, mean, dense, logistic, tanh and softmax."""
    b = GraphBuilder((9, 8, 3))
    x = _conv(b, b.input, 6, pads=(1, 1, 1, 1), activation="relu")
    y = b.depthwise_conv2d(
        x, RNG.normal(0, 0.5, (3, 3, 12)), RNG.normal(0, 0.1, 12), 2, (2, 2), (1, 1), (1, 1, 1, 0)
    )
    y = b.unary("tanh", y)
    z = _conv(b, x, 12, kernel=1, stride=(2, 2))
    z = b.unary("logistic", z)
    s = b.add(y, z, activation="relu6")
    p = b.pool("max_pool", s, 2, 1, (0, 0, 1, 1))
    a = b.pool("avg_pool", p, 3, 2, (1, 1, 1, 1))
    m = b.mean(a)
    d = b.dense(m, RNG.normal(0, 0.5, (5, 12)), RNG.normal(0, 0.1, 5))
    return b.build(b.unary("softmax", d))


def _dequantized(model, x):
    codes = reference.quantize_input(model, x.reshape(len(x), *model.input.shape))
    return reference.dequantize_output(model, reference.run(model, codes))


@pytest.mark.parametrize(("weights", "tolerance"), [("int8", 0.03), ("int4", 0.08)])
def test_quantized_graph_tracks_the_float_graph(weights, tolerance):
    graph = _every_op_graph()
    x = RNG.normal(size=(200, 9, 8, 3)).astype(np.float32)
    model = quantize_network(graph, x, weights=weights)
    ops = [layer.op for layer in model.layers]
    assert ops == [
        "CONV_2D",
        "DEPTHWISE_CONV_2D",
        "TANH",
        "CONV_2D",
        "LOGISTIC",
        "ADD",
        "MAX_POOL_2D",
        "AVERAGE_POOL_2D",
        "MEAN",
        "FULLY_CONNECTED",
        "SOFTMAX",
    ]
    assert np.abs(_dequantized(model, x) - graph.predict(x)).max() < tolerance


def test_fixed_and_shared_output_parameters():
    graph = _every_op_graph()
    model = quantize_network(graph, RNG.normal(size=(50, 9, 8, 3)))
    layers = {layer.op: layer for layer in model.layers}
    add = layers["ADD"].params
    assert add["input1_offset"] == 0 and add["input2_offset"] == 128  # tanh (1/128, 0), logistic
    assert (model.output.scale, model.output.zero_point) == (1 / 256, -128)  # softmax
    assert add["act_min"] == add["output_offset"]  # relu6 fused into the ADD
    # both pools pass the ADD's parameters on to the MEAN
    assert layers["MEAN"].input_zero_point == add["output_offset"]


def test_reshapes_fold_into_shared_tensors():
    b = GraphBuilder((64,))
    image = b.reshape(b.input, (8, 8, 1))
    x = _conv(b, image, 4, activation="relu")
    flat = b.reshape(x, (6 * 6 * 4,))
    out = b.dense(flat, RNG.normal(size=(3, 144)), np.zeros(3))
    model = quantize_network(b.build(out), RNG.uniform(size=(20, 64)))
    assert model.input.shape == (8, 8, 1) and len(model.shapes) == 3
    assert [layer.op for layer in model.layers] == ["CONV_2D", "FULLY_CONNECTED"]


def test_a_reshape_between_two_layouts_is_refused():
    b = GraphBuilder((4, 4, 2))
    x = _conv(b, b.input, 2, kernel=1)
    y = _conv(b, b.reshape(x, (2, 4, 4)), 3, kernel=1)
    with pytest.raises(ValueError, match="different layouts"):
        quantize_network(b.build(y), RNG.normal(size=(5, 4, 4, 2)))


def test_scale_shift_folds_into_the_layer_before_or_becomes_a_layer():
    b = GraphBuilder((5, 5, 2))
    x = _conv(b, b.input, 3)
    x = b.scale_shift(x, [0.5, 2.0, -1.0], [0.1, 0.2, 0.3])
    x = b.activation(x, "relu")
    x = b.scale_shift(x, [1.5, 0.5, 2.0], [0.0, -0.1, 0.1])  # after a relu: its own layer
    graph = b.build(x)
    assert [(n.op, n.activation) for n in graph.nodes] == [
        ("conv2d", "relu"),
        ("depthwise_conv2d", "none"),
    ]
    x_in = RNG.normal(size=(3, 5, 5, 2)).astype(np.float32)
    conv = graph.nodes[0]
    unfolded = np.maximum(graph.forward_all(x_in)[1], 0)
    assert conv.activation == "relu" and np.allclose(graph.forward_all(x_in)[1], unfolded)
    expected = unfolded * np.array([1.5, 0.5, 2.0]) + np.array([0.0, -0.1, 0.1])
    np.testing.assert_allclose(graph.predict(x_in), expected, rtol=1e-5, atol=1e-6)


def test_relu_after_a_tensor_read_elsewhere_stays_a_node_of_its_own():
    b = GraphBuilder((4,))
    x = b.dense(b.input, RNG.normal(size=(4, 4)))
    y = b.activation(x, "relu")
    graph = b.build(b.add(x, y))
    assert [node.op for node in graph.nodes] == ["dense", "relu", "add"]
    assert graph.nodes[0].activation == "none"


def test_per_tensor_and_sub_byte_weights():
    graph = _every_op_graph()
    x = RNG.normal(size=(30, 9, 8, 3))
    model = quantize_network(graph, x, weights="int2", per_tensor=True)
    weighted = [layer for layer in model.layers if "weights" in layer.tensors]
    assert len(weighted) == 4
    for layer in weighted:
        assert layer.weight_bits == 2 and not layer.per_channel
        assert np.abs(layer.weights.astype(int)).max() <= 1


def test_outlier_robust_calibration_narrows_the_range():
    b = GraphBuilder((16,))
    out = b.dense(b.input, np.eye(16), np.zeros(16))
    graph = b.build(out)
    x = RNG.normal(size=(2000, 16))
    x[0, 0] = 1000.0
    wide = quantize_network(graph, x, method="minmax")
    robust = quantize_network(graph, x, method="percentile")
    assert robust.input.scale < wide.input.scale / 50


def test_missing_calibration_and_huge_layers_are_explained():
    b = GraphBuilder((3, 3, 1))
    graph = b.build(_conv(b, b.input, 2))
    with pytest.raises(ValueError, match="needs calibration data"):
        quantize_network(graph)
    b = GraphBuilder((40000,))
    graph = b.build(b.dense(b.input, np.full((1, 40000), 1e-3)))
    with pytest.raises(ValueError, match="31-bit"):
        quantize_network(graph, np.ones((2, 40000)))


def test_dead_channel_with_a_large_bias_keeps_inside_31_bits():
    b = GraphBuilder((6, 6, 2))
    weight = RNG.normal(0, 0.3, (3, 3, 3, 2))
    weight[1] = 1e-9
    out = b.conv2d(b.input, weight, np.array([0.1, 40.0, -0.2]), pads=(1, 1, 1, 1))
    graph = b.build(out)
    x = RNG.normal(size=(50, 6, 6, 2))
    model = quantize_network(graph, x)
    assert int(model.layers[0].accumulator_bounds().max()) < 2**30
    assert np.abs(_dequantized(model, x) - graph.predict(x)).max() < 0.3
