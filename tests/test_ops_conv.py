"""CONV_2D and DEPTHWISE_CONV_2D: micronn.ops.conv equals a scalar transcription of TFLM's
reference kernels on random layers, and survives the container round trip."""

import numpy as np
import pytest
import tflm_loops
from conv_factory import layer_input_shape, one_layer_model, random_conv, random_inputs

from micronn import container, reference
from micronn.ops.conv import prepare_conv2d, prepare_depthwise_conv2d
from micronn.ops.window import geometry

CASES = 120


def _scalar(layer, scales, x):
    p = layer.params
    channels = p["out_channels"]
    pairs = tflm_loops.conv_multipliers(
        scales["input"], list(scales["weights"]), scales["output"], channels
    )
    run = tflm_loops.depthwise_conv2d if layer.op == "DEPTHWISE_CONV_2D" else tflm_loops.conv2d
    return np.array(run(x.tolist(), layer.weights.tolist(), layer.bias.tolist(), pairs, p))


@pytest.mark.parametrize("depthwise", [False, True], ids=["conv2d", "depthwise"])
def test_random_layers_match_the_tflm_loops(depthwise):
    rng = np.random.default_rng(2024 + depthwise)
    seen = set()
    for _ in range(CASES):
        layer, scales = random_conv(rng, depthwise=depthwise)
        p = layer.params
        seen.add((layer.weight_bits, layer.per_channel, p["pad_top"] > 0, p["dilation_width"] > 1))
        model = container.read(container.write(one_layer_model(layer, layer_input_shape(layer))))
        xs = random_inputs(rng, layer_input_shape(layer), 3)
        got = reference.run(model, xs)
        for x, y in zip(xs, got, strict=True):
            np.testing.assert_array_equal(y, _scalar(layer, scales, x))
    assert len(seen) >= 12  # bit widths x per-channel x padded x dilated all occurred


def test_multipliers_are_tflms_all_double_products():
    weights = np.ones((3, 1, 1, 1), np.int8)
    scales = np.array([0.0031, 1e-5, 0.5], np.float32)
    layer = prepare_conv2d(
        weights,
        scales,
        None,
        input_shape=(2, 2, 1),
        input_scale=0.0123,
        input_zero_point=-3,
        output_scale=0.071,
        output_zero_point=5,
    )
    expected = tflm_loops.conv_multipliers(np.float32(0.0123), list(scales), np.float32(0.071), 3)
    assert list(zip(layer.multiplier.tolist(), layer.shift.tolist(), strict=True)) == expected
    assert layer.bias.tolist() == [0, 0, 0]


def test_per_tensor_scale_gives_one_multiplier():
    layer = prepare_depthwise_conv2d(
        np.ones((2, 2, 4), np.int8),
        np.array([0.01], np.float32),
        np.arange(4),
        input_shape=(3, 3, 2),
        input_scale=0.02,
        input_zero_point=0,
        output_scale=0.05,
        output_zero_point=0,
        padding="same",
    )
    assert layer.multiplier.shape == (1,) and layer.params["depth_multiplier"] == 2
    assert not layer.per_channel


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "dilation", "expected"),
    [
        (7, 3, 2, 1, (4, 1)),  # total (4-1)*2+3-7 = 2
        (8, 3, 2, 1, (4, 0)),  # total 1: the odd pixel goes after the image
        (6, 1, 1, 1, (6, 0)),
        (7, 3, 1, 2, (7, 2)),  # effective window 5
        (5, 4, 3, 1, (2, 1)),
    ],
)
def test_same_padding_follows_compute_padding_height_width(
    size, kernel, stride, dilation, expected
):
    spots = geometry((size, size), (kernel, kernel), (stride, stride), (dilation, dilation), "same")
    assert (spots["out_height"], spots["pad_top"]) == expected
    assert (spots["out_width"], spots["pad_left"]) == expected


def test_explicit_padding_sets_the_output_size():
    layer = prepare_conv2d(
        np.ones((1, 1, 3, 1), np.int8),
        [0.1],
        None,
        input_shape=(1, 12, 1),
        input_scale=0.1,
        input_zero_point=0,
        output_scale=0.1,
        output_zero_point=0,
        padding=(0, 0, 2, 0),  # causal: two before, none after
    )
    p = layer.params
    assert (p["out_height"], p["out_width"], p["pad_left"]) == (1, 12, 2)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"padding": "full"}, "padding must be"),
        ({"input_shape": (2, 2, 3)}, "conv weights must be"),
        ({"input_shape": (1, 1, 2)}, "does not fit"),
        ({"weight_scales": [0.1, -1.0]}, "weight scales must be finite"),
        ({"bias": np.zeros(3)}, "bias must have 2 entries"),
    ],
)
def test_prepare_conv2d_rejects_bad_arguments(change, message):
    arguments = {
        "weights": np.ones((2, 2, 2, 2), np.int8),
        "weight_scales": [0.1, 0.2],
        "bias": None,
        "input_shape": (4, 4, 2),
        "input_scale": 0.1,
        "input_zero_point": 0,
        "output_scale": 0.1,
        "output_zero_point": 0,
    }
    arguments |= change
    weights, weight_scales, bias = (arguments.pop(k) for k in ("weights", "weight_scales", "bias"))
    with pytest.raises(ValueError, match=message):
        prepare_conv2d(weights, weight_scales, bias, **arguments)


def test_padding_taps_are_skipped_not_zero_codes():
    """A SAME conv with a nonzero input zero point: the border sees fewer taps, not code 0."""
    layer = prepare_conv2d(
        np.ones((1, 3, 3, 1), np.int8),
        [1.0],
        None,
        input_shape=(3, 3, 1),
        input_scale=1.0,
        input_zero_point=-10,
        output_scale=1.0,
        output_zero_point=0,
        padding="same",
    )
    x = np.full((1, 3, 3, 1), -9, np.int8)  # every value is 1 above the zero point
    taps = reference.run(one_layer_model(layer, (3, 3, 1)), x)[0, :, :, 0]
    np.testing.assert_array_equal(taps, [[4, 6, 4], [6, 9, 6], [4, 6, 4]])


def test_large_batches_are_evaluated_in_chunks_with_the_same_result(monkeypatch):
    from micronn.ops import window

    rng = np.random.default_rng(8)
    models = []
    for depthwise in (False, True):
        layer, _ = random_conv(rng, depthwise=depthwise)
        models.append(one_layer_model(layer, layer_input_shape(layer)))
    xs = [random_inputs(rng, model.input.shape, 7) for model in models]
    whole = [reference.run(model, x) for model, x in zip(models, xs, strict=True)]
    monkeypatch.setattr(window, "GATHER_BUDGET", 1)  # one sample per chunk
    for model, x, expected in zip(models, xs, whole, strict=True):
        np.testing.assert_array_equal(reference.run(model, x), expected)
