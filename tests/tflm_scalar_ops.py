"""Scalar transcriptions of TFLM's int8 LOGISTIC, TANH, SOFTMAX and ADD, gemmlowp included.

Written line by line from gemmlowp/fixedpoint/fixedpoint.h, tensorflow/lite/kernels/internal/
reference/integer_ops/{logistic,tanh,add}.h, reference/softmax.h, common.h (GetReciprocal,
MultiplyByQuantizedMultiplier*), quantization_util.cc and micro/kernels/{logistic_common,tanh,
softmax_common,add_common}.cc: plain Python ints, one value at a time, int32 wrap-around where
the C++ adds, C truncating division where it divides. Deliberately independent of the vectorised
micronn.gemmlowp and micronn.ops code under test.
"""

import math

import numpy as np
from tflm_scalar_common import (
    INT32_MAX,
    INT32_MIN,
    c_div,
    mbqm,
    quantize_multiplier,
    rdbpot,
    srdhm,
    wrap,
)


def srmpot(x: int, exponent: int) -> int:
    """SaturatingRoundingMultiplyByPOT<exponent>."""
    if exponent < 0:
        return rdbpot(x, -exponent)
    if exponent == 0:
        return x
    threshold = (1 << (31 - exponent)) - 1
    if x > threshold:
        return INT32_MAX
    if x < -threshold:
        return INT32_MIN
    return x * (1 << exponent)


def rescale(x: int, src_bits: int, dst_bits: int) -> int:
    return srmpot(x, src_bits - dst_bits)


# ------------------------------------------------------------------ gemmlowp


def exp_quarter(a: int) -> int:
    """exp_on_interval_between_negative_one_quarter_and_0_excl, Q0.31."""
    constant_term, one_third = 1895147668, 715827883
    x = wrap(a + (1 << 28))
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = srmpot(x4, -2)
    polynomial = srmpot(wrap(srdhm(wrap(x4_over_4 + x3), one_third) + x2), -1)
    return wrap(constant_term + srdhm(constant_term, wrap(x + polynomial)))


BARREL = {-2: 1672461947, -1: 1302514674, 0: 790015084, 1: 290630308, 2: 39332535, 3: 720401}
BARREL[4] = 242


def exp_on_negative_values(a: int, integer_bits: int) -> int:
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    mask = one_quarter - 1
    a_mod_quarter_minus_one_quarter = wrap((a & mask) - one_quarter)
    result = exp_quarter(rescale(a_mod_quarter_minus_one_quarter, integer_bits, 0))
    remainder = wrap(a_mod_quarter_minus_one_quarter - a)
    for exponent in range(-2, 5):
        if integer_bits > exponent and remainder & (1 << (fractional_bits + exponent)):
            result = srdhm(result, BARREL[exponent])
    if integer_bits > 5 and a < -(1 << (36 - integer_bits)):
        result = 0
    return INT32_MAX if a == 0 else result


def rounding_half_sum(a: int, b: int) -> int:
    total = a + b
    return c_div(total + (1 if total >= 0 else -1), 2)


def newton_reciprocal(a: int) -> int:
    half_denominator = rounding_half_sum(a, INT32_MAX)
    x = wrap(1515870810 + srdhm(half_denominator, -1010580540))
    for _ in range(3):
        one_minus = wrap((1 << 29) - srdhm(half_denominator, x))
        x = wrap(x + rescale(srdhm(x, one_minus), 4, 2))
    return x


def one_over_one_plus_x_for_x_in_0_1(a: int) -> int:
    return rescale(newton_reciprocal(a), 1, 0)


def one_minus_x_over_one_plus_x_for_x_in_0_1(a: int) -> int:
    return rescale(wrap(newton_reciprocal(a) - (1 << 29)), 2, 0)


def logistic(a: int, integer_bits: int) -> int:
    if a == 0:
        return 1 << 30
    positive = one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(wrap(-abs(a)), integer_bits))
    return positive if a > 0 else wrap(INT32_MAX - positive)


def tanh(a: int, integer_bits: int) -> int:
    if a == 0:
        return 0
    n = a if a < 0 else wrap(-a)
    t = one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(n, integer_bits + 1))
    return wrap(-t) if a < 0 else t


# ------------------------------------------------------------------ TFLM kernels


def f32(value: float) -> float:
    return float(np.float32(value))


def lookup_prepare(input_scale: float):
    """CalculateArithmeticOpDataLogistic / tanh.cc for int8 (kInputIntegerBits = 4)."""
    real = f32(input_scale) * float(1 << 27)
    fraction, left_shift = math.frexp(real)
    multiplier = math.floor(fraction * 2**31 + 0.5)
    radius = math.floor(15.0 * float(1 << 27) / float(1 << left_shift))
    return multiplier, left_shift, radius


def _lookup_int8(function, q, input_scale, input_zero_point, output_shift, output_offset):
    """reference_integer_ops::Logistic / Tanh for one int8 code (Q4.27 input, Q0.31 result)."""
    multiplier, left_shift, radius = lookup_prepare(input_scale)
    x = q - input_zero_point
    if x <= -radius:
        return -128
    if x >= radius:
        return 127
    y = function(mbqm(x, multiplier, left_shift), 4)
    return min(max(rdbpot(y, output_shift) + output_offset, -128), 127)


def logistic_int8(q: int, input_scale: float, input_zero_point: int) -> int:
    return _lookup_int8(logistic, q, input_scale, input_zero_point, 23, -128)


def tanh_int8(q: int, input_scale: float, input_zero_point: int) -> int:
    return _lookup_int8(tanh, q, input_scale, input_zero_point, 24, 0)


def softmax_prepare(beta: float, input_scale: float):
    real = min(f32(beta) * f32(input_scale) * float(1 << 26), float((1 << 31) - 1))
    multiplier, left_shift = quantize_multiplier(real)
    diff_min = -math.floor(31.0 * float(1 << 26) / float(1 << left_shift))
    return multiplier, left_shift, diff_min


def count_leading_zeros(x: int) -> int:
    x &= 0xFFFFFFFF
    return 32 - x.bit_length()


def softmax_int8_row(row, beta: float, input_scale: float):
    """reference_ops::Softmax for one row of int8 codes; None where TFLM's check fails."""
    multiplier, left_shift, diff_min = softmax_prepare(beta, input_scale)
    top = max(row)
    total = 0
    for q in row:
        diff = q - top
        if diff >= diff_min:
            scaled = srdhm(wrap(diff * (1 << left_shift)), multiplier)
            total = wrap(total + rescale(exp_on_negative_values(scaled, 5), 0, 12))
    headroom_plus_one = count_leading_zeros(total)
    bits_over_unit = 12 - headroom_plus_one
    shifted_sum_minus_one = wrap(((total << headroom_plus_one) & 0xFFFFFFFF) - (1 << 31))
    shifted_scale = one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one)
    exponent = bits_over_unit + 31 - 8
    if not 0 <= exponent <= 31:
        return None
    out = []
    for q in row:
        diff = q - top
        if diff >= diff_min:
            scaled = srdhm(wrap(diff * (1 << left_shift)), multiplier)
            value = rdbpot(srdhm(shifted_scale, exp_on_negative_values(scaled, 5)), exponent)
            out.append(min(max(value - 128, -128), 127))
        else:
            out.append(-128)
    return out


def add_prepare(scale1, zp1, scale2, zp2, out_scale, out_zp):
    """CalculateOpDataAdd for int8 outputs."""
    twice = 2 * float(max(f32(scale1), f32(scale2)))
    reals = (f32(scale1) / twice, f32(scale2) / twice, twice / ((1 << 20) * f32(out_scale)))
    return [(-zp1, -zp2, out_zp)] + [quantize_multiplier(r) for r in reals]


def add_int8(a: int, b: int, prepared, act_min=-128, act_max=127) -> int:
    (offset1, offset2, out_offset), (m1, s1), (m2, s2), (mo, so) = prepared
    x1 = rdbpot(srdhm((offset1 + a) * (1 << 20), m1), -s1)
    x2 = rdbpot(srdhm((offset2 + b) * (1 << 20), m2), -s2)
    raw = rdbpot(srdhm(x1 + x2, mo), -so) + out_offset
    return min(act_max, max(act_min, raw))
