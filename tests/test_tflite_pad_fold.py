"""An explicit PAD before a convolution (how TFLite writes PyTorch's and Keras' padding) is
folded into the convolution's padding, bit-exact with TFLM running the PAD; one that cannot be
folded becomes a PAD layer, bit-exact too."""

import numpy as np
import pytest
import tflm_models
from conv_factory import random_inputs
from tflm_conv_models import GraphBuilder, conv_model

from micronn import reference
from micronn.importers.tflite import import_tflite


def _spec(depthwise, pad, stride=(1, 1), padding="valid", channels=3, kernel=(3, 3)):
    rng = np.random.default_rng(sum(stride) + 7 * depthwise)
    out_channels = channels * 2 if depthwise else 4
    shape = (1, *kernel, out_channels) if depthwise else (out_channels, *kernel, channels)
    return {
        "input": (7, 6, channels),
        "in": (0.03, -17),
        "out": (0.08, 9),
        "weights": rng.integers(-127, 128, size=shape).astype(np.int8),
        "weight_scales": list(rng.uniform(0.002, 0.02, size=out_channels)),
        "bias": rng.integers(-3000, 3000, size=out_channels),
        "depthwise": depthwise,
        "stride": stride,
        "dilation": (1, 1),
        "padding": padding,
        "activation": "relu",
        "pad": pad,
    }


def _matches_tflm(model_bytes, in_shape):
    model = import_tflite(model_bytes, "pad.tflite")
    assert [layer.op for layer in model.layers] in (["CONV_2D"], ["DEPTHWISE_CONV_2D"])
    x = random_inputs(np.random.default_rng(1), in_shape, 6)
    expected = tflm_models.run(model_bytes, x)
    got = reference.run(model, x)
    np.testing.assert_array_equal(got.reshape(expected.shape), expected)
    return model.layers[0].params


CASES = {
    "mobilenet-v2": (((1, 1), (1, 1)), (1, 1), "valid"),
    "mobilenet-v2-stride2": (((1, 1), (1, 1)), (2, 2), "valid"),
    "fomo-bottom-right-stride2": (((0, 1), (0, 1)), (2, 2), "valid"),
    "asymmetric": (((2, 0), (1, 3)), (1, 1), "valid"),
    "asymmetric-stride2x1": (((0, 2), (2, 1)), (2, 1), "valid"),
    "after-same-padding": (((1, 0), (0, 1)), (2, 2), "same"),
}


@pytest.mark.parametrize("depthwise", [False, True], ids=["conv2d", "depthwise"])
@pytest.mark.parametrize("case", CASES)
def test_pad_then_convolution_matches_tflm(depthwise, case):
    pad, stride, padding = CASES[case]
    spec = _spec(depthwise, pad, stride, padding)
    params = _matches_tflm(conv_model(spec), spec["input"])
    if padding == "valid":
        assert (params["pad_top"], params["pad_left"]) == (pad[0][0], pad[1][0])
        assert (params["in_height"], params["in_width"]) == spec["input"][:2]


def _pad_graph(out_quantization, value=None, amounts=((1, 1), (0, 2))):
    """PAD (or PADV2 padding with `value`) then a 3x3 VALID CONV_2D."""
    g = GraphBuilder()
    source = g.activation((5, 5, 2), 0.03, -17)
    paddings = np.array([[0, 0], *amounts, [0, 0]], np.int32)
    shape = (5 + sum(amounts[0]), 5 + sum(amounts[1]), 2)
    padded = g.activation(shape, *out_quantization)
    inputs = [source, g.tensor((4, 2), "INT32", paddings)]
    if value is not None:
        constant = np.array([value], np.int8)  # TFLM wants the output's parameters on it
        inputs.append(g.tensor((1,), "INT8", constant, *([q] for q in out_quantization)))
    g.operator("PAD" if value is None else "PADV2", inputs, [padded])
    weights = np.random.default_rng(4).integers(-127, 128, size=(3, 3, 3, 2)).astype(np.int8)
    w = g.tensor(weights.shape, data=weights, scale=[0.01, 0.02, 0.005])
    bias_scale = np.float32(out_quantization[0]) * np.array([0.01, 0.02, 0.005], np.float32)
    b = g.tensor((3,), "INT32", np.array([100, -200, 300], np.int32), bias_scale)
    out = g.activation((shape[0] - 2, shape[1] - 2, 3), 0.1, 3)
    options = g.schema.Conv2DOptionsT()
    options.padding, options.strideH, options.strideW = 1, 1, 1
    options.dilationHFactor = options.dilationWFactor = 1
    g.operator("CONV_2D", [padded, w, b], [out], options)
    return g.build(out)


def test_a_pad_that_requantizes_nothing_folds_even_with_other_output_parameters():
    # PAD copies int8 codes; the convolution reads them with the PAD output's parameters, and
    # the pad value is that output's zero point: the same codes either way
    _matches_tflm(_pad_graph((0.05, 11)), (5, 5, 2))


def test_a_padv2_with_the_zero_point_folds():
    _matches_tflm(_pad_graph((0.03, -17), value=-17), (5, 5, 2))


def _pad_layer_matches_tflm(model_bytes, in_shape):
    model = import_tflite(model_bytes, "pad.tflite")
    assert "PAD" in [layer.op for layer in model.layers]
    x = random_inputs(np.random.default_rng(2), in_shape, 6)
    expected = tflm_models.run(model_bytes, x)
    got = reference.run(model, x)
    np.testing.assert_array_equal(got.reshape(expected.shape), expected)
    return model


@pytest.mark.parametrize(
    ("model_bytes", "in_shape"),
    [
        (_pad_graph((0.03, -17), value=5), (5, 5, 2)),
        (
            conv_model(
                _spec(False, ((1, 1), (1, 1)), channels=2)
                | {
                    "pad_amounts": [[0, 0], [1, 1], [1, 1], [0, 1]],
                    "weights": np.random.default_rng(5)
                    .integers(-127, 128, (4, 3, 3, 3))
                    .astype(np.int8),
                }
            ),
            (7, 6, 2),
        ),
    ],
    ids=["padv2-other-value", "channel-pad"],
)
def test_a_pad_that_cannot_fold_becomes_a_pad_layer(model_bytes, in_shape):
    model = _pad_layer_matches_tflm(model_bytes, in_shape)
    conv = model.layers[-1]
    assert (conv.pad_top, conv.pad_left) == (0, 0)  # the PAD layer pads, not the convolution


def test_a_channel_pad_feeding_add():
    # BlazeFace's shortcut: PAD the channels, then ADD
    g = GraphBuilder()
    source = g.activation((4, 4, 2), 0.05, 3)
    paddings = np.array([[0, 0], [0, 0], [0, 0], [0, 2]], np.int32)
    padded = g.activation((4, 4, 4), 0.05, 3)
    g.operator("PAD", [source, g.tensor((4, 2), "INT32", paddings)], [padded])
    total = g.activation((4, 4, 4), 0.1, 0)
    g.operator("ADD", [padded, padded], [total], g.schema.AddOptionsT())
    model = _pad_layer_matches_tflm(g.build(total), (4, 4, 2))
    assert [layer.op for layer in model.layers] == ["PAD", "ADD"]


def test_a_pad_feeding_a_pool():
    g = GraphBuilder()
    source = g.activation((4, 4, 1), 0.1, -5)
    amounts = np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32)
    padded = g.activation((6, 6, 1), 0.1, -5)
    g.operator("PAD", [source, g.tensor((4, 2), "INT32", amounts)], [padded])
    pooled = g.activation((3, 3, 1), 0.1, -5)
    options = g.schema.Pool2DOptionsT()
    options.padding, options.strideH, options.strideW = 1, 2, 2
    options.filterHeight = options.filterWidth = 2
    g.operator("MAX_POOL_2D", [padded], [pooled], options)
    _pad_layer_matches_tflm(g.build(pooled), (4, 4, 1))


def test_a_pad_as_the_model_output():
    g = GraphBuilder()
    source = g.activation((4, 4, 1), 0.1, 7)
    amounts = np.array([[0, 0], [1, 2], [0, 1], [0, 0]], np.int32)
    padded = g.activation((7, 5, 1), 0.1, 7)
    g.operator("PAD", [source, g.tensor((4, 2), "INT32", amounts)], [padded])
    _pad_layer_matches_tflm(g.build(padded), (4, 4, 1))
