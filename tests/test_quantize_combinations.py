"""Every T x mode x round_mode x narrow_range x axis against the scalar oracle, bit for bit.

Expected values come from tests/quantize_oracle.py, a one-element-at-a-time re-derivation of
TF's kernel formulas on Python floats; combinations TF refuses must raise its ValueError.
Per tensor (axis None) every range below is tried; per axis the slices cycle through them.
"""

import itertools
import re

import numpy as np
import pytest
import quantize_oracle as oracle

from micronn.quantize import dequantize, quantize

TYPES = ("qint8", "quint8", "qint16", "quint16", "qint32")
MODES = ("MIN_COMBINED", "MIN_FIRST", "SCALED")
ROUND_MODES = ("HALF_AWAY_FROM_ZERO", "HALF_TO_EVEN")
CODE_DTYPES = {
    "qint8": np.int8,
    "quint8": np.uint8,
    "qint16": np.int16,
    "quint16": np.uint16,
    "qint32": np.int32,
}
SHAPE = (16, 3, 20)  # axis 0: 16 slices, axis 2: 20 slices, axis -2 (-> 1): 3 slices
PER_TENSOR_SHAPE = (3, 4, 5)
AXES = (None, 0, 2, -2)
QUANTIZE_RANGES = [
    (-10.0, 9.0),
    (0.1, 0.3),
    (-0.3, -0.1),
    (0.0, 0.002),
    (-1.0, 1.0),
    (-128.0, 127.0),
    (-3.0, 6.0),
    (0.0, 0.0),
    (-256.0, 256.0),
    (-0.064, 0.127),
    (5.0, 5.0),
    (-1e-30, 3e-31),
    (-1.0, np.inf),
    (-np.inf, 1.0),
    (np.nan, 1.0),
    (-1.0, np.nan),
]
DEQUANTIZE_RANGES = [
    (-3.0, 6.0),
    (0.0, 255.0),
    (-1.0, 1.0),
    (5.0, -5.0),
    (0.0, 0.0),
    (-1e-36, 1e-36),
    (200.0, 400.0),
    (-512.0, 255.0),
    (-10.0, 9.921875),
    (-1e30, 1e30),
    (-2.0, 1.0),
    (-np.inf, np.inf),
    (np.nan, 1.0),
]
SPECIAL_VALUES = [0.0, -0.0, np.inf, -np.inf, np.nan, 0.5, -0.5, 2.5, -2.5, 1e-39, -1e-39, 3e38]


def float_row(low, high, width, rng):
    """Values probing one range: its ends, steps across it, code-space ties, specials, random."""
    low, high = np.nan_to_num([low, high], nan=0.0, posinf=10.0, neginf=-10.0)
    span = max(float(high) - float(low), 1e-3)
    ends = [low, high]
    steps = np.linspace(0, 1, 17) * span + low
    ties = (np.arange(-3, 4) + 0.5) * span / 255.0
    random = rng.uniform(low - span, high + span, width)
    return np.concatenate([ends, SPECIAL_VALUES, ties, steps, random])[:width].astype(np.float32)


def code_row(T, width, rng):
    """Codes with the type's extremes (and qint32's float-rounding edges), then random ones."""
    lo, hi = oracle.LIMITS[T]
    edges = [lo, hi, 0, lo + 1, hi - 1, (lo + hi) // 2, 1, 2]
    if T == "qint32":
        edges += [2147483584, 2147483583, 2147483520, -2147483647]
    random = rng.integers(lo, hi, width, endpoint=True)
    return np.concatenate([edges, random])[:width].astype(CODE_DTYPES[T])


def per_axis_tensor(rows, axis):
    """Stack one row per slice and move the slice index to axis."""
    moved = np.stack(rows).reshape((len(rows), *np.delete(SHAPE, axis)))
    return np.ascontiguousarray(np.moveaxis(moved, 0, axis))


def per_axis_ranges(ranges, count):
    chosen = list(itertools.islice(itertools.cycle(ranges), count))
    mins, maxs = zip(*chosen, strict=True)
    return np.array(mins, np.float32), np.array(maxs, np.float32)


def slices_of(array, axis):
    """The flat slices along axis, in order (one slice for axis None)."""
    if axis is None:
        return [array.reshape(-1)]
    return [s.reshape(-1) for s in np.moveaxis(array, axis, 0)]


def float32_bits(values):
    """Bit patterns, every NaN as one canonical NaN (TF does not fix a NaN's bits)."""
    return [oracle.float32_bits(float(v)) if v == v else "nan" for v in np.ravel(values)]


def quantize_cases(axis, seed):
    """(x, min_range, max_range) tuples: one per range per tensor, or one per-axis tensor."""
    rng = np.random.default_rng(seed)
    if axis is None:
        width = int(np.prod(PER_TENSOR_SHAPE))
        return [
            (float_row(low, high, width, rng).reshape(PER_TENSOR_SHAPE), low, high)
            for low, high in QUANTIZE_RANGES
        ]
    count = SHAPE[axis]
    mins, maxs = per_axis_ranges(QUANTIZE_RANGES, count)
    width = int(np.prod(SHAPE)) // count
    rows = [float_row(low, high, width, rng) for low, high in zip(mins, maxs, strict=True)]
    return [(per_axis_tensor(rows, axis), mins, maxs)]


def check_quantize(x, mins, maxs, T, axis, settings):
    output, output_min, output_max = quantize(x, mins, maxs, T, axis=axis, **settings)
    assert output.dtype == CODE_DTYPES[T]
    assert output.shape == x.shape
    kwargs = {
        "T": T,
        "mode": settings["mode"],
        "round_mode": settings["round_mode"],
        "narrow_range": settings["narrow_range"],
        "emr": settings["ensure_minimum_range"],
    }
    expected_codes, lows, highs = [], [], []
    for values, low, high in zip(
        slices_of(x, axis), np.atleast_1d(mins), np.atleast_1d(maxs), strict=True
    ):
        codes, out_low, out_high = oracle.quantize_slice(values, low, high, **kwargs)
        expected_codes.append(codes)
        lows.append(out_low)
        highs.append(out_high)
    codes_by_slice = [s.astype(np.int64).tolist() for s in slices_of(output, axis)]
    assert codes_by_slice == expected_codes
    assert float32_bits(output_min) == float32_bits(lows)
    assert float32_bits(output_max) == float32_bits(highs)
    if axis is None:
        assert isinstance(output_min, np.float32)
        assert isinstance(output_max, np.float32)
    else:
        assert output_min.shape == output_max.shape == (len(lows),)


@pytest.mark.parametrize("ensure_minimum_range", [0.01, 0.0])
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("narrow_range", [False, True])
@pytest.mark.parametrize("round_mode", ROUND_MODES)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("T", TYPES)
def test_quantize(T, mode, round_mode, narrow_range, axis, ensure_minimum_range):
    settings = {
        "mode": mode,
        "round_mode": round_mode,
        "narrow_range": narrow_range,
        "ensure_minimum_range": ensure_minimum_range,
    }
    cases = quantize_cases(axis, seed=TYPES.index(T) * 10 + AXES.index(axis))
    if round_mode == "HALF_TO_EVEN" and mode != "SCALED":
        message = (
            f"Round mode 'HALF_TO_EVEN' only supported for mode 'SCALED', but mode is '{mode}'."
        )
        x, mins, maxs = cases[0]
        with pytest.raises(ValueError, match=re.escape(message)):
            quantize(x, mins, maxs, T, axis=axis, **settings)
        return
    if mode == "MIN_FIRST" and axis is not None:
        message = "MIN_FIRST mode is not implemented for Quantize with axis != -1."
        x, mins, maxs = cases[0]
        with pytest.raises(ValueError, match=re.escape(message)):
            quantize(x, mins, maxs, T, axis=axis, **settings)
        return
    for x, mins, maxs in cases:
        check_quantize(x, mins, maxs, T, axis, settings)


def dequantize_cases(T, axis, seed):
    """(q, min_range, max_range) tuples: one per range per tensor, or one per-axis tensor."""
    rng = np.random.default_rng(seed)
    if axis is None:
        width = int(np.prod(PER_TENSOR_SHAPE))
        return [
            (code_row(T, width, rng).reshape(PER_TENSOR_SHAPE), low, high)
            for low, high in DEQUANTIZE_RANGES
        ]
    count = SHAPE[axis]
    mins, maxs = per_axis_ranges(DEQUANTIZE_RANGES, count)
    width = int(np.prod(SHAPE)) // count
    rows = [code_row(T, width, rng) for _ in range(count)]
    return [(per_axis_tensor(rows, axis), mins, maxs)]


def check_dequantize(q, mins, maxs, T, axis, settings):
    output = dequantize(q, mins, maxs, axis=axis, **settings)
    assert output.dtype == np.float32
    assert output.shape == q.shape
    to_bits = oracle.bfloat16 if settings["dtype"] == "bfloat16" else oracle.float32_bits
    expected = []
    for codes, low, high in zip(
        slices_of(q, axis), np.atleast_1d(mins), np.atleast_1d(maxs), strict=True
    ):
        values = oracle.dequantize_slice(
            codes, low, high, T, settings["mode"], settings["narrow_range"], axis is None
        )
        expected.append([to_bits(v) if v == v else "nan" for v in values])
    actual = [float32_bits(s) for s in slices_of(output, axis)]
    assert actual == expected


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("narrow_range", [False, True])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("T", TYPES)
def test_dequantize(T, mode, narrow_range, axis, dtype):
    settings = {"mode": mode, "narrow_range": narrow_range, "dtype": dtype}
    cases = dequantize_cases(T, axis, seed=TYPES.index(T) * 10 + AXES.index(axis) + 100)
    if dtype == "bfloat16" and mode != "MIN_COMBINED":
        message = f"When output type is bfloat16, Mode string must be 'MIN_COMBINED', is '{mode}'"
        q, mins, maxs = cases[0]
        with pytest.raises(ValueError, match=re.escape(message)):
            dequantize(q, mins, maxs, axis=axis, **settings)
        return
    if mode == "MIN_FIRST" and axis is not None:
        message = "MIN_FIRST mode is not implemented for Dequantize with axis != -1."
        q, mins, maxs = cases[0]
        with pytest.raises(ValueError, match=re.escape(message)):
            dequantize(q, mins, maxs, axis=axis, **settings)
        return
    for q, mins, maxs in cases:
        check_dequantize(q, mins, maxs, T, axis, settings)
