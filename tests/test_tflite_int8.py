"""CalculateActivationRangeQuantized as TFLM computes it, and its refusal of RELU6 ranges that
overflow int32."""

import numpy as np
import pytest
from tflite_builder import dense_int8

from micronn.importers.tflite import import_tflite
from micronn.ops.add import prepare_add
from micronn.tflite_int8 import activation_range

SMALLEST_RELU6_SCALE = np.float32(3 * 2.0**-30)  # 6 / scale is exactly 2**31


@pytest.mark.parametrize(
    "activation, scale, zero_point, expected",
    [
        ("none", 0.1, 5, (-128, 127)),
        ("relu", 0.1, 5, (5, 127)),
        ("relu", 0.1, -128, (-128, 127)),
        ("relu6", 0.1, -128, (-128, -68)),
        ("relu6", 6 / 255, -128, (-128, 127)),
        ("relu6", 0.05, 10, (10, 127)),
    ],
)
def test_activation_ranges(activation, scale, zero_point, expected):
    assert activation_range(activation, scale, zero_point) == expected


def test_relu6_just_inside_int32_keeps_the_whole_range():
    scale = float(np.nextafter(SMALLEST_RELU6_SCALE, np.float32(1)))
    assert activation_range("relu6", scale, -128) == (-128, 127)


@pytest.mark.parametrize("scale", [float(SMALLEST_RELU6_SCALE), 1e-12, 1e-45])
def test_relu6_whose_six_overflows_int32_is_refused(scale):
    with pytest.raises(ValueError, match="RELU6 .* does not fit int32 .* must exceed"):
        activation_range("relu6", scale, 0)
    assert activation_range("relu", scale, 0) == (0, 127)


def test_an_add_with_such_a_relu6_is_refused():
    with pytest.raises(ValueError, match="RELU6"):
        prepare_add(4, 1e-10, 0, 1e-10, 0, 1e-12, 0, "relu6")


def test_a_tflite_layer_with_such_a_relu6_is_refused_by_name():
    data = dense_int8(fused_activation=3, output=(1e-12, 0))  # 3: RELU6
    with pytest.raises(ValueError, match=r"FULLY_CONNECTED \(operator 0.* fused RELU6 .* int32"):
        import_tflite(data, "relu6.tflite")


def test_unknown_activation_is_refused():
    with pytest.raises(ValueError, match="activation must be one of"):
        activation_range("gelu", 0.1, 0)
