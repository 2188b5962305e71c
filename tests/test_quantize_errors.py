"""What TensorFlow refuses, quantize()/dequantize() refuse with ValueError and TF's message;
what TF accepts (odd as it may be), they accept."""

import re

import numpy as np
import pytest

from micronn.quantize import dequantize, quantize

X = np.linspace(-1.0, 1.0, 6, dtype=np.float32).reshape(2, 3)
Q = np.arange(6, dtype=np.int8).reshape(2, 3)
ALLOWED_T = "qint8, quint8, qint32, qint16, quint16"


def raises(message):
    return pytest.raises(ValueError, match="^" + re.escape(message) + "$")


@pytest.mark.parametrize("T", ["int8", "float", "qint4", "QINT8"])
def test_quantize_refuses_unknown_T(T):
    with raises(f"Value for attr 'T' of {T} is not in the list of allowed values: {ALLOWED_T}"):
        quantize(X, -1.0, 1.0, T)


def test_quantize_refuses_unknown_mode():
    with raises("Mode string must be 'MIN_COMBINED', 'MIN_FIRST', or 'SCALED', is 'MIN_MAX'"):
        quantize(X, -1.0, 1.0, "qint8", mode="MIN_MAX")


def test_quantize_refuses_unknown_round_mode():
    message = "Round mode string must be 'HALF_AWAY_FROM_ZERO' or 'HALF_TO_EVEN', is 'HALF_UP'"
    with raises(message):
        quantize(X, -1.0, 1.0, "qint8", mode="SCALED", round_mode="HALF_UP")


@pytest.mark.parametrize("mode", ["MIN_COMBINED", "MIN_FIRST"])
def test_quantize_refuses_half_to_even_outside_scaled(mode):
    message = f"Round mode 'HALF_TO_EVEN' only supported for mode 'SCALED', but mode is '{mode}'."
    with raises(message):
        quantize(X, -1.0, 1.0, "qint8", mode=mode, round_mode="HALF_TO_EVEN")


@pytest.mark.parametrize(("x", "axis"), [(X, 2), (X, 5), (np.float32(1.0), 0)])
def test_quantize_refuses_axis_beyond_rank(x, axis):
    message = (
        "Axis is on a zero-based index, so its value must always be less than number of "
        f"input's dims, but given axis value was {axis} and input's dims was {np.ndim(x)}"
    )
    with raises(message):
        quantize(x, [-1.0], [1.0], "qint8", axis=axis)


def test_quantize_refuses_negative_axis_of_a_scalar():
    with pytest.raises(ValueError, match="given axis value was -1 and input's dims was 0"):
        quantize(np.float32(1.0), [-1.0], [1.0], "qint8", axis=-1)


def test_quantize_refuses_non_integer_axis():
    with raises("axis must be an int or None, got 1.0"):
        quantize(X, [-1.0] * 3, [1.0] * 3, "qint8", axis=1.0)


@pytest.mark.parametrize("name", ["min_range", "max_range"])
def test_quantize_per_axis_range_must_be_1d(name):
    ranges = {"min_range": [-1.0, -1.0, -1.0], "max_range": [1.0, 1.0, 1.0], name: 0.5}
    message = (
        f"If axis is specified, {name} must be a 1-D tensor whose size matches the axis "
        f"dimension of the input and output tensors, but {name} dims are 0"
    )
    with raises(message):
        quantize(X, T="qint8", axis=1, **ranges)


@pytest.mark.parametrize("name", ["min_range", "max_range"])
def test_quantize_per_axis_range_must_match_axis(name):
    ranges = {"min_range": [-1.0, -1.0, -1.0], "max_range": [1.0, 1.0, 1.0], name: [0.5, 1.0]}
    message = (
        f"If axis is specified, {name} must be a 1-D tensor whose size matches the axis "
        f"dimension of the input and output tensors, but {name} is a 1-D tensor of size 2 "
        "and input's axis dimension is of size 3"
    )
    with raises(message):
        quantize(X, T="qint8", axis=1, **ranges)


@pytest.mark.parametrize("name", ["min_range", "max_range"])
def test_quantize_per_tensor_range_must_be_one_float(name):
    ranges = {"min_range": -1.0, "max_range": 1.0, name: [0.5, 1.0, 2.0]}
    message = (
        f"If axis is not specified, {name} must contain a single float element, "
        "but it contains 3 elements"
    )
    with raises(message):
        quantize(X, T="qint8", **ranges)


def test_quantize_refuses_min_first_per_axis():
    with raises("MIN_FIRST mode is not implemented for Quantize with axis != -1."):
        quantize(X, [-1.0] * 3, [1.0] * 3, "quint8", mode="MIN_FIRST", axis=1)


@pytest.mark.parametrize("mode", ["MIN_COMBINED", "MIN_FIRST", "SCALED"])
def test_quantize_refuses_max_below_min(mode):
    with raises("input_max_range must be larger than input_min_range."):
        quantize(X, 1.0, 0.5, "qint8", mode=mode)


def test_quantize_refuses_max_below_min_in_any_slice():
    with raises("input_max_range must be larger than input_min_range."):
        quantize(X, [-1.0, -1.0, 2.0], [1.0, 1.0, 1.5], "qint8", axis=1)


def test_quantize_refuses_non_numeric_input():
    with raises("x must be real numbers, got dtype <U1"):
        quantize(np.array(["a"]), -1.0, 1.0, "qint8")


def test_quantize_accepts_what_tf_accepts():
    # min == max, and a NaN bound, pass TF's strict `max < min` check.
    assert quantize(X, 0.5, 0.5, "qint8")[0].shape == X.shape
    assert quantize(X, np.nan, 1.0, "qint8")[1] == 0.0
    # axis=None reads only element 0 of any one-element min/max, whatever its shape.
    output, output_min, _ = quantize(X, [[-1.0]], np.array([1.0]), "qint8")
    assert isinstance(output_min, np.float32)
    # A negative axis is taken modulo the rank, as tf.quantization does: -1 is the last axis
    # (per-axis, not per-tensor) and -3 on a rank-2 input wraps to axis 1.
    for axis in (-1, -3):
        _, per_slice_min, _ = quantize(X, [-1.0, -2.0, -3.0], [1.0] * 3, "qint8", axis=axis)
        np.testing.assert_array_equal(per_slice_min, [-1.0, -2.0, -3.0])


@pytest.mark.parametrize("dtype", ["float16", "float64", "int8"])
def test_dequantize_refuses_unknown_output_type(dtype):
    with raises(f"Output type must be bfloat16 or float, is '{dtype}'"):
        dequantize(Q, -1.0, 1.0, dtype=dtype)


def test_dequantize_refuses_unknown_mode():
    with raises("Mode string must be 'MIN_COMBINED', 'MIN_FIRST', or 'SCALED', is 'MIN_MAX'"):
        dequantize(Q, -1.0, 1.0, mode="MIN_MAX")


@pytest.mark.parametrize("mode", ["MIN_FIRST", "SCALED", "MIN_MAX"])
def test_dequantize_bfloat16_needs_min_combined(mode):
    with raises(f"When output type is bfloat16, Mode string must be 'MIN_COMBINED', is '{mode}'"):
        dequantize(Q, -1.0, 1.0, mode=mode, dtype="bfloat16")


@pytest.mark.parametrize(("q", "axis"), [(Q, 2), (Q, 7), (np.int8(3), 0)])
def test_dequantize_refuses_axis_beyond_rank(q, axis):
    with raises(f"Axis must be less than input dimension({np.ndim(q)}), got {axis}"):
        dequantize(q, [-1.0], [1.0], axis=axis)


@pytest.mark.parametrize(
    ("axis", "count", "expected"), [(None, 2, 1), (1, 2, 3), (0, 3, 2), (-1, 1, 3)]
)
@pytest.mark.parametrize("name", ["input_min_tensor", "input_max_tensor"])
def test_dequantize_range_sizes_must_match_slices(name, axis, count, expected):
    ranges = {"min_range": [-1.0] * expected, "max_range": [1.0] * expected}
    ranges["min_range" if name == "input_min_tensor" else "max_range"] = [0.5] * count
    shown_axis = {None: -1, -1: 1}.get(axis, axis)
    message = (
        f"{name} must have as many elements as input on the dequantization axis "
        f"({shown_axis}), got {count}, expected {expected}"
    )
    with raises(message):
        dequantize(Q, axis=axis, **ranges)


def test_dequantize_refuses_min_first_per_axis():
    with raises("MIN_FIRST mode is not implemented for Dequantize with axis != -1."):
        dequantize(Q, [-1.0] * 3, [1.0] * 3, mode="MIN_FIRST", axis=1)


def test_dequantize_refuses_unknown_T():
    with raises(f"Value for attr 'T' of int8 is not in the list of allowed values: {ALLOWED_T}"):
        dequantize(Q, -1.0, 1.0, T="int8")


@pytest.mark.parametrize("q", [np.zeros(3, np.float32), np.zeros(3, np.int64), [1, 2]])
def test_dequantize_needs_T_for_other_dtypes(q):
    with pytest.raises(ValueError, match="cannot tell the quantized type of a .* array: pass T"):
        dequantize(q, -1.0, 1.0)


def test_dequantize_checks_codes_against_explicit_T():
    with raises("codes must lie in [0, 255] for T=quint8"):
        dequantize([0, 256], 0.0, 1.0, T="quint8")
    with raises("quantized input must hold integer codes, got dtype float64"):
        dequantize([0.0, 1.0], 0.0, 1.0, T="quint8")


def test_dequantize_accepts_what_tf_accepts():
    # No range checks or adjustment: min > max is used as given.
    np.testing.assert_array_equal(dequantize(np.uint8([0, 255]), 1.0, -1.0), [1.0, -1.0])
    # Python ints with an explicit T.
    np.testing.assert_array_equal(dequantize([0, 255], 0.0, 255.0, T="quint8"), [0.0, 255.0])


def test_min_first_on_an_empty_axis_is_per_axis_too():
    # TF takes the per-tensor path only for exactly one slice; zero slices are per-axis.
    with raises("MIN_FIRST mode is not implemented for Quantize with axis != -1."):
        quantize(np.zeros((2, 0)), [], [], "quint8", mode="MIN_FIRST", axis=1)
    with raises("MIN_FIRST mode is not implemented for Dequantize with axis != -1."):
        dequantize(np.zeros((2, 0), np.uint8), [], [], mode="MIN_FIRST", axis=1)
    codes, low, _ = quantize(np.zeros((2, 0)), [], [], "quint8", axis=1)
    assert codes.shape == (2, 0)
    assert low.shape == (0,)
