"""Random CONV_2D, DEPTHWISE_CONV_2D, PAD + conv, pools and MEAN against TFLM itself.

Each case is a one-operator .tflite built in memory (tflm_conv_models) with random geometry
(stride, dilation, SAME/VALID, kernel larger than the stride or not), zero points at the int8
extremes, per-tensor or per-channel weights and scales across orders of magnitude; the TFLM
interpreter's outputs must equal micronn's import + reference.run exactly.
"""

import numpy as np
import pytest
import tflm_models
from conv_factory import random_inputs, zero_point
from tflm_conv_models import conv_model, mean_model, out_size, pool_model

from micronn import reference
from micronn.importers.tflite import import_tflite
from micronn.ops.window import geometry

CASES = 100
ACTIVATIONS = ("none", "relu", "relu6")


def _scale(rng, low, high) -> float:
    return float(np.float32(10.0 ** rng.uniform(low, high)))


def _compare(model_bytes, shape, rng, samples=4):
    model = import_tflite(model_bytes, "sweep.tflite")
    x = random_inputs(rng, shape, samples)
    expected = tflm_models.run(model_bytes, x)
    got = reference.run(model, x.reshape(samples, *model.input.shape))
    np.testing.assert_array_equal(got.reshape(expected.shape), expected)


def _conv_spec(rng, depthwise):
    while True:
        height, width = (int(v) for v in rng.integers(1, 10, size=2))
        channels = int(rng.integers(1, 5))
        kh, kw, sh, sw, dh, dw = (int(v) for v in rng.integers(1, [5, 5, 4, 4, 3, 3]))
        padding = str(rng.choice(["same", "valid"]))
        pad = None
        if rng.random() < 0.25:
            pad = tuple(tuple(int(v) for v in rng.integers(0, 3, size=2)) for _ in range(2))
        padded = (height + sum(pad[0]), width + sum(pad[1])) if pad else (height, width)
        sizes = [out_size(padding, padded[0], kh, sh, dh), out_size(padding, padded[1], kw, sw, dw)]
        if min(sizes) < 1:
            continue
        own = geometry(padded, (kh, kw), (sh, sw), (dh, dw), padding)
        if pad and (
            pad[0][0] + own["pad_top"] >= (kh - 1) * dh + 1
            or pad[1][0] + own["pad_left"] >= (kw - 1) * dw + 1
        ):
            continue  # micronn refuses padding as wide as the window (tested elsewhere)
        out_channels = channels * int(rng.integers(1, 4)) if depthwise else int(rng.integers(1, 6))
        shape = (1, kh, kw, out_channels) if depthwise else (out_channels, kh, kw, channels)
        count = out_channels if rng.random() < 0.7 else 1
        return {
            "input": (height, width, channels),
            "in": (_scale(rng, -3, -1), zero_point(rng)),
            "out": (_scale(rng, -2.5, 0.5), zero_point(rng)),
            "weights": rng.integers(-127, 128, size=shape).astype(np.int8),
            "weight_scales": [_scale(rng, -4, -1) for _ in range(count)],
            "bias": rng.integers(-(2**15), 2**15, size=out_channels),
            "depthwise": depthwise,
            "stride": (sh, sw),
            "dilation": (dh, dw),
            "padding": padding,
            "activation": str(rng.choice(ACTIVATIONS)),
            "pad": pad,
        }


@pytest.mark.parametrize("depthwise", [False, True], ids=["conv2d", "depthwise"])
def test_random_convolutions_match_tflm(depthwise):
    rng = np.random.default_rng(77 + depthwise)
    folded = 0
    for _ in range(CASES):
        spec = _conv_spec(rng, depthwise)
        folded += spec["pad"] is not None
        _compare(conv_model(spec), spec["input"], rng)
    assert folded >= 5  # PAD folded into the convolution against TFLM's PAD kernel


@pytest.mark.parametrize("op", ["MAX_POOL_2D", "AVERAGE_POOL_2D"])
def test_random_pools_match_tflm(op):
    rng = np.random.default_rng(5 + len(op))
    for _ in range(CASES):
        while True:
            shape = tuple(int(v) for v in rng.integers(1, [10, 10, 5]))
            filter_hw = tuple(int(v) for v in rng.integers(1, 5, size=2))
            stride = tuple(int(v) for v in rng.integers(1, 4, size=2))
            padding = str(rng.choice(["same", "valid"]))
            if min(out_size(padding, shape[i], filter_hw[i], stride[i]) for i in (0, 1)) >= 1:
                break
        quantization = (_scale(rng, -3, 0), zero_point(rng))
        activation = str(rng.choice(ACTIVATIONS))
        model = pool_model(op, shape, quantization, filter_hw, stride, padding, activation)
        _compare(model, shape, rng)


def test_random_means_match_tflm():
    rng = np.random.default_rng(99)
    for case in range(CASES):
        if case % 3 == 0:
            shape, axes = (int(rng.integers(1, 20)), int(rng.integers(1, 5))), [1]
        else:
            shape = tuple(int(v) for v in rng.integers(1, [12, 12, 5]))
            axes = [[1, 2], [2, 1], [-3, -2]][case % 3]
        in_scale = _scale(rng, -3, -1)
        ratio = [1.0, 10.0 ** rng.uniform(-1, 1), 10.0 ** rng.uniform(-3, 2)][case % 3]
        quantization_in = (in_scale, zero_point(rng))
        quantization_out = (float(np.float32(in_scale / ratio)), zero_point(rng))
        keep = bool(rng.integers(2))
        model = mean_model(shape, axes, quantization_in, quantization_out, keep)
        _compare(model, shape, rng)
