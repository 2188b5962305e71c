"""Convolutions, pools and MEAN that micronn cannot run exactly are refused at import, with a
message that names the operator and says what to do instead."""

import numpy as np
import pytest
from tflm_conv_models import GraphBuilder, conv_model, mean_model

from micronn.importers.tflite import import_tflite


def _spec(**change):
    spec = {
        "input": (5, 5, 2),
        "in": (0.02, -3),
        "out": (0.05, 4),
        "weights": np.ones((3, 3, 3, 2), np.int8),
        "weight_scales": [0.01, 0.02, 0.03],
        "bias": [1, 2, 3],
        "depthwise": False,
        "stride": (1, 1),
        "dilation": (1, 1),
        "padding": "same",
        "activation": "none",
        "pad": None,
    }
    return spec | change


def _refused(model_bytes, *words):
    with pytest.raises(ValueError) as error:
        import_tflite(model_bytes, "bad.tflite")
    for word in words:
        assert word in str(error.value), str(error.value)


def test_the_default_spec_imports():
    model = import_tflite(conv_model(_spec()), "good.tflite")
    assert [layer.op for layer in model.layers] == ["CONV_2D"]


def test_grouped_convolution():
    _refused(
        conv_model(_spec(input=(5, 5, 4))), "CONV_2D (operator 0", "grouped convolution", "groups=1"
    )


def test_depth_multiplier_that_disagrees_with_the_channels():
    spec = _spec(depthwise=True, weights=np.ones((1, 3, 3, 4), np.int8), depth_multiplier=1)
    spec |= {"weight_scales": [0.01] * 4, "bias": [0] * 4}
    _refused(conv_model(spec), "DEPTHWISE_CONV_2D", "depth multiplier 1", "out = in x multiplier")


def test_stored_output_shape_that_the_padding_cannot_give():
    _refused(conv_model(_spec(out_hw=(4, 5))), "stores an output of shape [4, 5, 3]", "[5, 5, 3]")


def test_fused_activation_other_than_relu():
    _refused(conv_model(_spec(fused=4)), "CONV_2D", "fused activation TANH")


def test_pad_as_wide_as_the_window():
    _refused(
        conv_model(_spec(pad=((2, 0), (0, 0)), padding="same")),
        "follows a PAD that pads 2 before the image",
        "pad less",
    )


def test_pool_that_requantizes():
    g = GraphBuilder()
    source = g.activation((4, 4, 2), 0.1, 0)
    pooled = g.activation((2, 2, 2), 0.2, 0)
    options = g.schema.Pool2DOptionsT()
    options.padding, options.strideH, options.strideW = 1, 2, 2
    options.filterHeight = options.filterWidth = 2
    g.operator("MAX_POOL_2D", [source], [pooled], options)
    _refused(g.build(pooled), "MAX_POOL_2D", "different input and output quantization")


@pytest.mark.parametrize(
    ("shape", "axes"),
    [((4, 4, 3), [3]), ((4, 4, 3), [1, 2, 3]), ((4, 4, 3), [1]), ((6, 3), [2]), ((12,), [1])],
)
def test_mean_that_is_not_a_global_average_is_a_mean_over_axes(shape, axes):
    model = import_tflite(mean_model(shape, axes, (0.1, 0), (0.1, 0)), "mean.tflite")
    assert [layer.op for layer in model.layers] == ["MEAN_AXES"]
