"""Hand-checked cases (quantization-semantics.md sections 2-4), NaN/inf and vectorisation.

Expected numbers are the reference's TF 2.21 observations or are worked out here with a few
float32 steps; none comes from running micronn.quantize.
"""

import struct
import sys
from pathlib import Path

import numpy as np
import pytest
import quantize_oracle as oracle

import micronn
from micronn.quantize import dequantize, quantize

F32 = np.float32
BASIC_X = [-10, -9.9, -1, -0.5, 0, 0.5, 1, 2.5, 9, 9.9, 20]
TIES = [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 126.5]
TINY = [0, 0.001, 0.002, 0.005, 0.01]
QINT32_X = [-1, -0.5, 0, 0.5, 0.999, 1]
INT32_MIN = -(2**31)
TABLE_4_5 = [
    # T, mode, round_mode, ensure_minimum_range, x, min, max, codes, out_min, out_max
    ("qint8", "MIN_COMBINED", None, None, BASIC_X, -10, 9,
     [-128, -127, -7, -1, 6, 13, 20, 40, 127, 127, 127], -10, 9),
    ("qint8", "MIN_FIRST", None, None, BASIC_X, -10, 9,
     [-128, -127, -7, -1, 6, 13, 19, 40, 127, 127, 127], -10, 9),
    ("qint8", "SCALED", None, None, BASIC_X, -10, 9,
     [-128, -127, -13, -6, 0, 6, 13, 32, 115, 127, 127], -10, 9.921875),
    ("quint8", "MIN_COMBINED", None, None, BASIC_X, -10, 9,
     [0, 1, 121, 128, 134, 141, 148, 168, 255, 255, 255], -10, 9),
    ("quint8", "MIN_FIRST", None, None, BASIC_X, -10, 9,
     [0, 1, 121, 127, 134, 141, 147, 168, 255, 255, 255], -10, 9),
    ("quint8", "SCALED", None, None, BASIC_X, -10, 9,
     [0, 0, 0, 0, 0, 14, 28, 71, 255, 255, 255], 0, 9),
    ("qint8", "SCALED", "HALF_TO_EVEN", None, TIES, -128, 127,
     [-2, -2, 0, 0, 2, 2, 126], -128, 127),
    ("qint8", "SCALED", "HALF_AWAY_FROM_ZERO", None, TIES, -128, 127,
     [-3, -2, -1, 1, 2, 3, 127], -128, 127),
    ("quint8", "MIN_COMBINED", None, None, [0.5, 1.5, 2.5, 254.5], 0, 255, [1, 2, 3, 255], 0, 255),
    ("qint8", "MIN_COMBINED", None, None, [0, 1, 2, 3], 1, 3, [-128, -43, 42, 127], 0, 3),
    ("quint8", "MIN_COMBINED", None, None, TINY, 0, 0.002, [0, 26, 51, 128, 255], 0, 0.01),
    ("quint8", "MIN_COMBINED", None, 0.0, TINY, 0, 0.002, [0, 128, 255, 255, 255], 0, 0.002),
    ("qint32", "SCALED", None, None, QINT32_X, -1, 1,
     [INT32_MIN, -1073741824, 0, 1073741824, 2145336192, INT32_MIN], -1, 1),
    ("qint32", "MIN_FIRST", None, None, [*QINT32_X, 5], -1, 1,
     [INT32_MIN, -1073741824, 0, 1073741824, 2145336192, 2147483520, 2147483520], -1, 1),
    ("qint32", "MIN_COMBINED", None, None, [0.999, 1.0], -1, 1, [2145336320, INT32_MIN], -1, 1),
]  # fmt: skip


def bits(value):
    return struct.unpack("<I", struct.pack("<f", value))[0]


@pytest.mark.parametrize("row", TABLE_4_5, ids=lambda row: f"{row[0]}-{row[1]}-{row[4][:2]}")
def test_reference_table(row):
    T, mode, round_mode, emr, x, low, high, codes, out_min, out_max = row
    settings = {"mode": mode}
    if round_mode:
        settings["round_mode"] = round_mode
    if emr is not None:
        settings["ensure_minimum_range"] = emr
    output, output_min, output_max = quantize(np.float32(x), low, high, T, **settings)
    assert output.tolist() == codes
    assert bits(output_min) == bits(out_min)
    assert bits(output_max) == bits(out_max)


def test_seed_example_quint8_from_minus_3_to_6():
    step = F32(9.0) / F32(255.0)
    values = dequantize(np.uint8([0, 255, 128]), -3.0, 6.0)
    assert values.dtype == np.float32
    assert values[0] == -3.0
    assert values[1] == 6.0
    assert values[2] == F32(128) * step + F32(-3.0)  # kernel order: code * scale + min
    assert abs(values[2] - 1.5) < step
    codes, output_min, output_max = quantize([-3.0, 6.0, 1.5, 0.0, -7.0, 9.0], -3.0, 6.0, "quint8")
    assert codes.dtype == np.uint8
    assert codes.tolist() == [0, 255, 128, 85, 0, 255]  # 1.5: 4.5 * 255/9 = 127.5 rounds up
    assert (output_min, output_max) == (-3.0, 6.0)
    round_trip = dequantize(codes[:4], output_min, output_max)
    assert np.all(np.abs(round_trip - [-3.0, 6.0, 1.5, 0.0]) <= step / 2 + 1e-6)  # 1.5 is a tie


@pytest.mark.parametrize(
    ("low", "high", "emr", "adjusted"),
    [
        (0.1, 0.3, 0.01, (0.0, F32(0.3))),
        (-0.3, -0.1, 0.01, (F32(-0.3), 0.0)),
        (0.0, 0.0, 0.01, (0.0, 0.009999999776482582)),
        (0.0, 0.002, 0.01, (0.0, F32(0.01))),
        (-100.0, -99.0, 0.01, (-100.0, 0.0)),
        (0.0, 0.0, 0.0, (0.0, 0.0)),
        (np.nan, 1.0, 0.01, (0.0, 1.0)),
        (-1.0, np.nan, 0.01, (-1.0, 0.0)),
        (np.nan, np.nan, 0.01, (0.0, 0.0)),
    ],
)
def test_range_always_includes_zero_and_has_minimum_width(low, high, emr, adjusted):
    _, output_min, output_max = quantize([0.0], low, high, "qint8", ensure_minimum_range=emr)
    assert (bits(output_min), bits(output_max)) == (bits(adjusted[0]), bits(adjusted[1]))


def test_scaled_range_and_narrow_range():
    _, low, high = quantize([0.0], -128.0, 100.0, "qint8", mode="SCALED", narrow_range=True)
    assert (low, high) == (-128.0, 128.0)
    x = [-3.0, -1.0, 0.0, 1.0, 2.0]
    codes, low, high = quantize(x, -1.0, 2.0, "quint8", mode="SCALED", narrow_range=True)
    assert codes.tolist() == [1, 1, 1, 128, 255]  # narrow_range raises quint8's lowest code
    assert low == F32(1.0) / (F32(255.0) / F32(2.0))


def test_flush_to_zero_of_a_denormal_output_min():
    # quint8 SCALED narrow over [0, 0]: scale = FLT_MAX and 1/FLT_MAX is denormal -> 0.
    _, low, high = quantize(
        [0.0], 0.0, 0.0, "quint8", mode="SCALED", narrow_range=True, ensure_minimum_range=0.0
    )
    assert bits(low) == 0
    assert high == F32(255.0) / np.finfo(np.float32).max


def test_flush_to_zero_in_dequantize():
    # 127 * (1e-38 / 127): the scale 7.9e-41 is denormal, so TF multiplies by zero.
    assert dequantize(np.int8([127, -5]), -1e-38, 1e-38, mode="SCALED").tolist() == [0.0, -0.0]
    # A denormal code value times a normal scale is flushed too (DAZ on the input range).
    assert dequantize(np.uint8([255]), 0.0, 1e-39, mode="SCALED").tolist() == [0.0]


def test_min_first_qint32_low_bits_are_float32_not_exact():
    codes, _, _ = quantize([-0.5], -10.0, 9.0, "qint32", mode="MIN_FIRST")
    assert codes.tolist() == [80]  # exact arithmetic would give 0


def test_qint32_scaled_dequantize_wraps_per_tensor_only():
    q = np.int32([2147483647, 2147483584, 2147483583, INT32_MIN])
    per_tensor = dequantize(q, -1.0, 1.0, mode="SCALED")
    assert per_tensor.tolist() == [-1.0, -1.0, float(F32(2147483520) / F32(2**31)), -1.0]
    size_one_axis = dequantize(q.reshape(1, 4), [-1.0], [1.0], mode="SCALED", axis=0)
    assert size_one_axis.tolist() == [per_tensor.tolist()]
    per_axis = dequantize(np.stack([q, q]), [-1.0, -1.0], [1.0, 1.0], mode="SCALED", axis=0)
    assert per_axis[0].tolist() == [1.0, 1.0, float(F32(2147483520) / F32(2**31)), -1.0]


def test_axis_of_size_one_takes_the_per_tensor_path():
    x = np.float32([[0.0, 1.0, 2.0, 3.0]])
    codes, low, high = quantize(x, [1.0], [3.0], "quint8", mode="MIN_FIRST", axis=0)
    assert isinstance(low, np.float32)
    assert isinstance(high, np.float32)
    assert codes.tolist() == [[0, 85, 170, 255]]
    assert dequantize(codes, [0.0], [3.0], mode="MIN_FIRST", axis=0).tolist() == [[0, 1, 2, 3]]


def test_per_axis_outputs_are_float32_arrays():
    codes, low, high = quantize(np.ones((2, 3)), [-1, -2, -3], [1, 2, 3], "qint8", axis=-1)
    assert codes.tolist() == [[127, 63, 42]] * 2
    assert low.dtype == high.dtype == np.float32
    assert low.tolist() == [-1, -2, -3]


def test_dequantize_infers_T_from_dtype_and_accepts_it_explicitly():
    for dtype, T in [(np.int8, "qint8"), (np.uint16, "quint16"), (np.int32, "qint32")]:
        q = np.array([0, 1], dtype)
        implicit = dequantize(q, -1.0, 1.0)
        np.testing.assert_array_equal(implicit, dequantize(q, -1.0, 1.0, T=T))
    # qint8 offsets codes by 128, quint8 does not.
    assert dequantize([0], 0.0, 255.0, T="qint8").tolist() == [128.0]
    assert dequantize([0], 0.0, 255.0, T="quint8").tolist() == [0.0]


@pytest.mark.parametrize(
    ("value", "expected_bits"),
    [
        (1.0 / 255.0, 0x3B810000),  # 0x3B808081 rounds up
        (1.00390625, 0x3F800000),  # 0x3F808000: a tie, kept even
        (1.01171875, 0x3F820000),  # 0x3F818000: a tie, rounded up to even
        (-2.0, 0xC0000000),
    ],
)
def test_bfloat16_output_rounds_to_nearest_even(value, expected_bits):
    # Code 0 of quint8 MIN_COMBINED dequantizes to exactly min_range.
    output = dequantize(np.uint8([0]), value, value, dtype="bfloat16")
    assert output.dtype == np.float32
    assert int(output.view(np.uint32)[0]) == expected_bits


NAN_CODES = {("qint32", "MIN_FIRST"): INT32_MIN}


@pytest.mark.parametrize("mode", ["MIN_COMBINED", "MIN_FIRST", "SCALED"])
@pytest.mark.parametrize("T", ["qint8", "quint8", "qint16", "quint16", "qint32"])
def test_nan_quantizes_to_the_documented_code_at_any_size(T, mode):
    expected = NAN_CODES.get((T, mode), 0)
    for size in (1, 7, 8, 33):  # TF differs inside 8-wide SIMD blocks; micronn does not
        x = np.full(size, np.nan, np.float32)
        assert quantize(x, -1.0, 1.0, T, mode=mode)[0].tolist() == [expected] * size


@pytest.mark.parametrize("T", ["qint8", "quint8", "qint16", "quint16", "qint32"])
def test_nan_made_inside_the_kernel_gives_code_zero(T):
    # [0, 0] without widening: scale = range(T) / 0 = inf, then 0 * inf = NaN.
    codes, _, _ = quantize([0.0, 1.0, -1.0], 0.0, 0.0, T, ensure_minimum_range=0.0)
    assert codes.tolist() == [0, 0, 0]


@pytest.mark.parametrize(
    ("T", "mode", "narrow_range", "expected"),
    [
        ("qint8", "MIN_COMBINED", False, [-128, 127]),
        ("qint8", "MIN_FIRST", False, [-128, 127]),
        ("qint8", "SCALED", False, [-128, 127]),
        ("qint8", "SCALED", True, [-127, 127]),
        ("quint8", "SCALED", True, [1, 255]),
        ("quint16", "MIN_FIRST", False, [0, 65535]),
        ("qint16", "MIN_COMBINED", False, [-32768, 32767]),
        ("qint32", "MIN_FIRST", False, [INT32_MIN, 2147483520]),
        ("qint32", "MIN_COMBINED", False, [INT32_MIN, INT32_MIN]),  # the top wraps
        ("qint32", "SCALED", False, [INT32_MIN, INT32_MIN]),
    ],
)
def test_infinities_saturate(T, mode, narrow_range, expected):
    codes, _, _ = quantize([-np.inf, np.inf], -1.0, 2.0, T, mode=mode, narrow_range=narrow_range)
    assert codes.tolist() == expected


def test_dequantize_propagates_nan_ranges():
    values = dequantize(np.int8([0, 5]), np.nan, 1.0)
    assert np.isnan(values).all()


def test_a_million_elements_in_one_call():
    x = np.linspace(-2.0, 2.0, 1_000_000, dtype=np.float32)
    codes, low, high = quantize(x, -1.5, 1.5, "qint8", mode="SCALED")
    assert codes.shape == x.shape
    sample = np.arange(0, x.size, 9973)
    expected, _, _ = oracle.quantize_slice(
        x[sample], -1.5, 1.5, "qint8", "SCALED", "HALF_AWAY_FROM_ZERO", False, 0.01
    )
    assert codes[sample].tolist() == expected
    values = dequantize(codes, low, high, mode="SCALED")
    assert values.shape == x.shape


def count_micronn_lines(function):
    """Python lines run inside the micronn package while function() executes."""
    package = str(Path(micronn.__file__).parent)
    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        if not frame.f_code.co_filename.startswith(package):
            return None
        if event == "line":
            count += 1
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        function()
    finally:
        sys.settrace(previous)
    return count


def quantize_and_dequantize_everything(size):
    """Every T, mode, round mode and output type, per axis where TF allows it."""
    x = np.linspace(-1.0, 1.0, size * 4, dtype=np.float32).reshape(size, 4)
    settings = [
        ("MIN_COMBINED", "HALF_AWAY_FROM_ZERO", 1),
        ("MIN_FIRST", "HALF_AWAY_FROM_ZERO", None),
        ("SCALED", "HALF_AWAY_FROM_ZERO", 1),
        ("SCALED", "HALF_TO_EVEN", None),
    ]
    for T in ("qint8", "quint8", "qint16", "quint16", "qint32"):
        for mode, round_mode, axis in settings:
            ranges = ([-1.0] * 4, [1.0] * 4) if axis else (-1.0, 1.0)
            codes, low, high = quantize(x, *ranges, T, mode, round_mode, axis=axis)
            dequantize(codes, low, high, mode=mode, axis=axis)
            if mode == "MIN_COMBINED":
                dequantize(codes, low, high, axis=axis, dtype="bfloat16")


def test_no_python_loop_over_elements():
    """The interpreter runs the same lines for 10 elements as for 100,000."""
    small = count_micronn_lines(lambda: quantize_and_dequantize_everything(10))
    large = count_micronn_lines(lambda: quantize_and_dequantize_everything(100_000))
    assert small > 1000
    assert small == large
