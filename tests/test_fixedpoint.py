"""fixedpoint.py against a scalar big-int transcription of the C++ sources."""

import math

import numpy as np
import pytest

from micronn.fixedpoint import (
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
)


def c_division(a: int, b: int) -> int:
    quotient = abs(a) // abs(b)
    return quotient if (a >= 0) == (b > 0) else -quotient


def srdhm_scalar(a: int, b: int) -> int:
    if a == b == -(2**31):
        return 2**31 - 1
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return c_division(ab + nudge, 1 << 31)


def rdbpot_scalar(x: int, exponent: int) -> int:
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def to_int32(x: int) -> int:
    return (x + 2**31) % 2**32 - 2**31


def mbqm_scalar(x: int, multiplier: int, shift: int) -> int:
    left, right = max(shift, 0), max(-shift, 0)
    return rdbpot_scalar(srdhm_scalar(to_int32(x * (1 << left)), multiplier), right)


def test_quantize_multiplier_known_values():
    assert quantize_multiplier(0.0) == (0, 0)
    assert quantize_multiplier(0.5) == (2**30, 0)
    assert quantize_multiplier(1.0) == (2**30, 1)
    assert quantize_multiplier(0.75) == (3 * 2**29, 0)
    assert quantize_multiplier(2.0**-40) == (0, 0)
    # a fraction that rounds up to 2**31 renormalises
    assert quantize_multiplier(1 - 2**-40) == (2**30, 1)


def test_quantize_multiplier_reconstructs_real_value():
    rng = np.random.default_rng(1)
    for real in 10.0 ** rng.uniform(-9, 3, size=500):
        q, shift = quantize_multiplier(float(real))
        assert 2**30 <= q < 2**31 and -31 <= shift <= 30
        assert math.isclose(q * 2.0 ** (shift - 31), real, rel_tol=2**-30)


def test_quantize_multiplier_rejects_negative():
    with pytest.raises(ValueError):
        quantize_multiplier(-1.0)


EDGES = [-(2**31), -(2**31) + 1, -(2**30), -1, 0, 1, 2**30 - 1, 2**30, 2**31 - 1]


def test_srdhm_matches_scalar_including_saturation():
    rng = np.random.default_rng(2)
    a = np.concatenate([np.repeat(EDGES, len(EDGES)), rng.integers(-(2**31), 2**31, 5000)])
    b = np.concatenate([np.tile(EDGES, len(EDGES)), rng.integers(-(2**31), 2**31, 5000)])
    got = saturating_rounding_doubling_high_mul(a, b)
    want = [srdhm_scalar(int(x), int(y)) for x, y in zip(a, b, strict=True)]
    assert got.tolist() == want
    assert srdhm_scalar(-(2**31), -(2**31)) == 2**31 - 1


def test_rounding_divide_by_pot_ties_away_from_zero():
    assert rounding_divide_by_pot([5, -5, 6, -6, 7, -7], 1).tolist() == [3, -3, 3, -3, 4, -4]
    rng = np.random.default_rng(3)
    x = rng.integers(-(2**31), 2**31, 3000)
    exponents = rng.integers(0, 32, 3000)
    got = rounding_divide_by_pot(x, exponents)
    want = [rdbpot_scalar(int(v), int(e)) for v, e in zip(x, exponents, strict=True)]
    assert got.tolist() == want


def test_multiply_by_quantized_multiplier_matches_scalar():
    rng = np.random.default_rng(4)
    x = rng.integers(-(2**31), 2**31, 4000)
    pairs = [quantize_multiplier(float(r)) for r in 10.0 ** rng.uniform(-9, 2, 4000)]
    multipliers = np.array([p[0] for p in pairs])
    shifts = np.array([p[1] for p in pairs])
    got = multiply_by_quantized_multiplier(x, multipliers, shifts)
    want = [
        mbqm_scalar(int(v), int(m), int(s)) for v, m, s in zip(x, multipliers, shifts, strict=True)
    ]
    assert got.tolist() == want


def test_double_rounding_differs_from_single_rounding():
    """5 * 0.25 = 1.25: SRDHM(5, 2**30) rounds 2.5 up to 3, then RDBPOT(3, 1) rounds 1.5 up to
    2; TFLite's single rounding would give 1."""
    q, shift = quantize_multiplier(0.25)
    assert (q, shift) == (2**30, -1)
    assert int(multiply_by_quantized_multiplier(5, q, shift)) == 2
