"""TFLite Micro's fixed-point requantization, vectorised over int64 numpy arrays.

QuantizeMultiplier (tensorflow/lite/kernels/internal/quantization_util.cc:53) and the
double-rounding MultiplyByQuantizedMultiplier (common.cc) built from gemmlowp's
SaturatingRoundingDoublingHighMul and RoundingDivideByPOT (fixedpoint.h:340, :368).
"""

import math

import numpy as np

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


def quantize_multiplier(real_multiplier: float) -> tuple[int, int]:
    """Return (quantized_multiplier, shift) with real = q * 2**(shift - 31)."""
    if real_multiplier < 0 or not math.isfinite(real_multiplier):
        raise ValueError(f"multiplier must be finite and >= 0, got {real_multiplier!r}")
    if real_multiplier == 0.0:
        return 0, 0
    fraction, shift = math.frexp(real_multiplier)
    q_fixed = _round_half_away(fraction * 2**31)
    if q_fixed == 2**31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q_fixed, shift


def _round_half_away(value: float) -> int:
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def wrap_int32(x):
    x = np.asarray(x, dtype=np.int64)
    return ((x + 2**31) & 0xFFFFFFFF) - 2**31


def saturating_rounding_doubling_high_mul(a, b):
    """gemmlowp SRDHM on int32 values held in int64 arrays."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    overflow = (a == INT32_MIN) & (b == INT32_MIN)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    total = ab + nudge
    quotient = np.abs(total) >> 31
    result = np.where(total < 0, -quotient, quotient)
    return np.where(overflow, INT32_MAX, result)


def rounding_divide_by_pot(x, exponent):
    """gemmlowp RoundingDivideByPOT: divide by 2**exponent, ties away from zero."""
    x = np.asarray(x, dtype=np.int64)
    exponent = np.asarray(exponent, dtype=np.int64)
    if np.any((exponent < 0) | (exponent > 31)):
        raise ValueError("exponent must be in [0, 31]")
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def multiply_by_quantized_multiplier(x, quantized_multiplier, shift):
    """TFLM's MultiplyByQuantizedMultiplier (double rounding) on int32 accumulators."""
    shift = np.asarray(shift, dtype=np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    shifted = wrap_int32(np.asarray(x, dtype=np.int64) << left)
    return rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(shifted, quantized_multiplier), right
    )
