"""gemmlowp's fixed-point transcendentals on int32 raw values, vectorised over int64 numpy arrays.

A FixedPoint<int32, m> value is its raw int32 r, the real number r / 2**(31 - m). The functions
follow gemmlowp/fixedpoint/fixedpoint.h (google/gemmlowp 16e8662c) operation by operation,
which TensorFlow Lite Micro's int8 LOGISTIC, TANH and SOFTMAX reference kernels call. Plain
int32 additions, subtractions and negations wrap, as the C++ does on every target TFLM runs on.
"""

import numpy as np

from micronn.fixedpoint import (
    INT32_MAX,
    INT32_MIN,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
    wrap_int32,
)

srdhm = saturating_rounding_doubling_high_mul

# Q0.31 constants from fixedpoint.h, named by the real number they hold.
EXP_MINUS_ONE_EIGHTH = 1895147668
ONE_THIRD = 715827883
BARREL_SHIFTER = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308))
BARREL_SHIFTER += ((2, 39332535), (3, 720401), (4, 242))  # exp(-2**k) for k = -2 .. 4
# Q2.29 constants of the Newton-Raphson division.
FORTY_EIGHT_SEVENTEENTHS = 1515870810
MINUS_THIRTY_TWO_SEVENTEENTHS = -1010580540
ONE_Q2 = 1 << 29


def _int(x):
    return np.asarray(x, dtype=np.int64)


def saturating_rounding_multiply_by_pot(x, exponent: int):
    """x * 2**exponent: a saturating left shift, or a rounding right shift for exponent < 0."""
    x = _int(x)
    if exponent < 0:
        return rounding_divide_by_pot(x, -exponent)
    if exponent == 0:
        return x
    threshold = (1 << (31 - exponent)) - 1
    shifted = x << exponent
    return np.where(x > threshold, INT32_MAX, np.where(x < -threshold, INT32_MIN, shifted))


def rescale(x, src_integer_bits: int, dst_integer_bits: int):
    """gemmlowp Rescale<dst>(FixedPoint<int32, src>)."""
    return saturating_rounding_multiply_by_pot(x, src_integer_bits - dst_integer_bits)


def rounding_half_sum(a, b):
    """(a + b) / 2 rounded to nearest, ties away from zero (int64 sum, C++ division)."""
    total = _int(a) + _int(b)
    sign = np.where(total >= 0, 1, -1)
    biased = total + sign
    return np.where(biased >= 0, biased // 2, -((-biased) // 2))


def exp_on_interval_between_negative_one_quarter_and_0_excl(a):
    """exp(a) for a in [-1/4, 0), Q0.31 in and out: a Taylor expansion around -1/8."""
    x = wrap_int32(_int(a) + (1 << 28))
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = saturating_rounding_multiply_by_pot(x4, -2)
    poly = srdhm(wrap_int32(x4_over_4 + x3), ONE_THIRD)
    poly = saturating_rounding_multiply_by_pot(wrap_int32(poly + x2), -1)
    return wrap_int32(EXP_MINUS_ONE_EIGHTH + srdhm(EXP_MINUS_ONE_EIGHTH, wrap_int32(x + poly)))


def exp_on_negative_values(a, integer_bits: int):
    """exp(a) for a <= 0 given as FixedPoint<int32, integer_bits>; result Q0.31."""
    a = _int(a)
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    a_mod_quarter_minus_one_quarter = wrap_int32((a & (one_quarter - 1)) - one_quarter)
    result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        rescale(a_mod_quarter_minus_one_quarter, integer_bits, 0)
    )
    remainder = wrap_int32(a_mod_quarter_minus_one_quarter - a)
    for exponent, multiplier in BARREL_SHIFTER:
        if integer_bits > exponent:
            bit = 1 << (fractional_bits + exponent)
            result = np.where(remainder & bit, srdhm(result, multiplier), result)
    if integer_bits > 5:
        clamp = -(1 << (36 - integer_bits))
        result = np.where(a < clamp, 0, result)
    return np.where(a == 0, INT32_MAX, result)


def _newton_reciprocal_of_half_denominator(a):
    """x ~ 1 / ((1 + a) / 2) in Q2.29 for a in Q0.31 [0, 1): three Newton-Raphson steps."""
    half_denominator = rounding_half_sum(a, INT32_MAX)
    x = wrap_int32(
        FORTY_EIGHT_SEVENTEENTHS + srdhm(half_denominator, MINUS_THIRTY_TWO_SEVENTEENTHS)
    )
    for _ in range(3):
        half_denominator_times_x = srdhm(half_denominator, x)
        one_minus = wrap_int32(ONE_Q2 - half_denominator_times_x)
        x = wrap_int32(x + rescale(srdhm(x, one_minus), 4, 2))
    return x


def one_over_one_plus_x_for_x_in_0_1(a):
    """1 / (1 + a) for a in [0, 1), Q0.31 in and out."""
    return rescale(_newton_reciprocal_of_half_denominator(a), 1, 0)


def one_minus_x_over_one_plus_x_for_x_in_0_1(a):
    """(1 - a) / (1 + a) for a in [0, 1), Q0.31 in and out."""
    x = _newton_reciprocal_of_half_denominator(a)
    return rescale(wrap_int32(x - ONE_Q2), 2, 0)


def logistic(a, integer_bits: int):
    """1 / (1 + exp(-a)) for FixedPoint<int32, integer_bits> a; result Q0.31."""
    a = _int(a)
    positive = a > 0
    abs_input = np.where(positive, a, wrap_int32(-a))
    if_positive = one_over_one_plus_x_for_x_in_0_1(
        exp_on_negative_values(wrap_int32(-abs_input), integer_bits)
    )
    if_negative = wrap_int32(INT32_MAX - if_positive)
    return np.where(a == 0, 1 << 30, np.where(positive, if_positive, if_negative))


def tanh(a, integer_bits: int):
    """tanh(a) for FixedPoint<int32, integer_bits> a; result Q0.31."""
    a = _int(a)
    negative = a < 0
    n = np.where(negative, a, wrap_int32(-a))
    # ExactMulByPot<1>: the raw value n read with one more integer bit is 2n.
    t = one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(n, integer_bits + 1))
    return np.where(a == 0, 0, np.where(negative, wrap_int32(-t), t))


def count_leading_zeros32(x):
    """Leading zero bits of x read as uint32 (32 for 0)."""
    x = _int(x) & 0xFFFFFFFF
    bits = np.zeros(x.shape, np.int64)
    for shift in (16, 8, 4, 2, 1):
        big = x >= (1 << shift)
        bits = np.where(big, bits + shift, bits)
        x = np.where(big, x >> shift, x)
    return np.where(x > 0, 31 - bits, 32)
