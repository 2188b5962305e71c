"""Dead channels (all-zero weights, |bias| beyond 2^30) are folded at import into an in-bound
channel with TFLM's exact constant output; a live channel over the bound is still refused."""

import numpy as np
import pytest
import tflm_models
from conv_factory import random_inputs
from tflm_conv_models import GraphBuilder, conv_model

from micronn import reference
from micronn.importers.tflite import import_tflite
from micronn.model import SMALL_INT_LIMIT

HUGE = 1_500_000_000  # > 2^30, fits int32


def _conv_spec(depthwise, weight_scales, bias, activation="none"):
    channels = len(bias)
    shape = (1, 3, 3, channels) if depthwise else (channels, 3, 3, 2)
    weights = np.random.default_rng(3).integers(-127, 128, size=shape).astype(np.int8)
    for channel in range(1, min(channels, 5)):
        if depthwise:
            weights[..., channel] = 0
        else:
            weights[channel] = 0
    return {
        "input": (5, 6, channels if depthwise else 2),
        "in": (0.02, -3),
        "out": (0.05, 4),
        "weights": weights,
        "weight_scales": weight_scales,
        "bias": bias,
        "depthwise": depthwise,
        "stride": (1, 2),
        "dilation": (1, 1),
        "padding": "same",
        "activation": activation,
        "pad": None,
    }


def _matches_tflm(model_bytes, in_shape, samples=6):
    model = import_tflite(model_bytes, "dead.tflite")
    x = random_inputs(np.random.default_rng(11), in_shape, samples)
    expected = tflm_models.run(model_bytes, x)
    got = reference.run(model, x.reshape(samples, *model.input.shape))
    np.testing.assert_array_equal(got.reshape(expected.shape), expected)
    assert max(int(layer.accumulator_bounds().max()) for layer in model.layers) < SMALL_INT_LIMIT
    return model


@pytest.mark.parametrize("depthwise", [False, True], ids=["conv2d", "depthwise"])
@pytest.mark.parametrize("activation", ["none", "relu6"])
def test_dead_convolution_channels_match_tflm(depthwise, activation):
    # channel 3's real multiplier 0.02 * 1e-7 / 0.05 puts HUGE inside the output range
    scales = [0.01, 0.02, 0.03, 1e-7, 0.02]
    bias = [5, HUGE, -HUGE, HUGE, -(2**31)]
    spec = _conv_spec(depthwise, scales, bias, activation)
    model = _matches_tflm(conv_model(spec), spec["input"])
    layer = model.layers[0]
    assert layer.bias[0] == 5 and layer.multiplier[0] != 2**30  # the live channel is untouched
    assert np.abs(layer.bias[1:]).max() <= 255


def test_a_per_tensor_multiplier_becomes_per_channel():
    spec = _conv_spec(True, [0.01], [7, HUGE, -HUGE, 3])
    model = _matches_tflm(conv_model(spec), spec["input"])
    layer = model.layers[0]
    assert layer.per_channel
    assert layer.multiplier[0] == layer.multiplier[3] != 2**30
    assert layer.multiplier[1] == layer.multiplier[2] == 2**30


def test_dead_channels_within_the_bound_are_kept_as_they_are():
    spec = _conv_spec(False, [0.01], [7, 2**20, -(2**20), 3])
    model = _matches_tflm(conv_model(spec), spec["input"])
    assert not model.layers[0].per_channel
    assert model.layers[0].bias.tolist() == [7, 2**20, -(2**20), 3]


def _fully_connected(bias, weight_scale=0.01):
    g = GraphBuilder()
    source = g.activation((8,), 0.02, 5)
    weights = np.random.default_rng(5).integers(-127, 128, size=(len(bias), 8)).astype(np.int8)
    weights[1] = 0
    w = g.tensor(weights.shape, data=weights, scale=[weight_scale])
    b = g.tensor(
        (len(bias),), "INT32", np.asarray(bias, np.int32), [np.float32(0.02) * weight_scale]
    )
    out = g.activation((len(bias),), 0.04, -7)
    g.operator("FULLY_CONNECTED", [source, w, b], [out], g.schema.FullyConnectedOptionsT())
    return g.build(out)


def test_a_dead_fully_connected_row_matches_tflm():
    model = _matches_tflm(_fully_connected([100, -HUGE, 9]), (8,))
    assert model.layers[0].multiplier.tolist()[1] == 2**30


def test_a_live_channel_over_the_bound_is_still_refused():
    with pytest.raises(ValueError, match=r"the accumulator can reach \d+ \(>= 2\^30\)"):
        import_tflite(_fully_connected([HUGE, -HUGE, 9]), "live.tflite")
    spec = _conv_spec(False, [0.01], [HUGE, 0, 0, 0])
    with pytest.raises(ValueError, match=r"layer 0 \(CONV_2D\): the accumulator can reach"):
        import_tflite(conv_model(spec), "live.tflite")
