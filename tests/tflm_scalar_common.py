"""TFLM's scalar integer primitives, shared by tflm_loops and tflm_scalar_ops.

Written from tensorflow/lite/kernels/internal/common.h (MultiplyByQuantizedMultiplier with
gemmlowp's SaturatingRoundingDoublingHighMul and RoundingDivideByPOT) and quantization_util.cc
(QuantizeMultiplier): plain Python ints, int32 wrap-around where the C++ wraps, C's truncating
division where it divides. Deliberately independent of micronn's vectorised code under test.
"""

import math

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def wrap(x: int) -> int:
    """x as a C int32 after wrap-around."""
    return ((x + 2**31) & 0xFFFFFFFF) - 2**31


def c_div(a: int, b: int) -> int:
    """C integer division: truncates toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def srdhm(a: int, b: int) -> int:
    """SaturatingRoundingDoublingHighMul."""
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return c_div(ab + nudge, 1 << 31)


def rdbpot(x: int, exponent: int) -> int:
    """RoundingDivideByPOT."""
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def mbqm(x: int, multiplier: int, shift: int) -> int:
    """MultiplyByQuantizedMultiplier (double rounding)."""
    left, right = max(shift, 0), max(-shift, 0)
    return rdbpot(srdhm(wrap(x * (1 << left)), multiplier), right)


def quantize_multiplier(real: float):
    """QuantizeMultiplier: (q, shift) with real = q * 2**(shift - 31)."""
    if real == 0.0:
        return 0, 0
    fraction, shift = math.frexp(real)
    q = math.floor(fraction * 2**31 + 0.5)  # std::round of a positive double; exact here
    if q == 2**31:
        q //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q, shift


def clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))
