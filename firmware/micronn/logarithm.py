"""TFLite's log_x_for_x_greater_than_or_equal_to_1<5> of a Q12.19 sum, in 31-bit small ints.

LOG_SOFTMAX takes the logarithm of its row's sum of exps s (2**19 <= s < 2**30) through
tensorflow/lite/kernels/internal/common.h log_x_for_x_greater_than_or_equal_to_1_impl: a
normalisation of s to r in [sqrt(1/2), 1) (Q0.31) and an exponent, then a rational polynomial
in r with gemmlowp's fixed-point products (SRDHM) and one_over_one_plus_x_for_x_in_0_1. Several
of its int32 values reach 2**31; here each such value v is kept as v - 2**30 (r, p) or as
2**30 * v2 + v1 (the inner sum t), and each product is rewritten with exact integer identities
into products of operands below 2**30 (fixedpoint.srdhm, reciprocal._high), as reciprocal.py
does for SOFTMAX. tests/test_ops_log_softmax.py checks every intermediate of log_q5 below 2**30
and the result equal to the host's transcription (micronn.ops.log_softmax.log_q5).
"""

from .fixedpoint import rounding_divide_by_pot, srdhm
from .reciprocal import SATURATED, _high, reciprocal_half

_LIMB = 0x7FFF
_SMALL_MAX = 0x3FFFFFFF  # 2**30 - 1 (2**30 itself is not a small int on a board)
_HALF_ONE = 0x20000000  # 2**29
# gemmlowp's Q0.31 constants as base-2**15 limbs (c2, c1, c0) or as c - 2**30
_SQRT_HALF_HALF = 759250125  # sqrt(1/2) / 2 (1518500250 / 2, exact)
_SQRT_HALF = (1, 13572, 31130)  # 1518500250
_SQRT_SQRT_HALF_LOW = 732069477  # 1805811301 - 2**30
_LOG_2 = (1, 12658, 3068)  # 1488522236
_ALPHA_N = (0, 3572, 2001)  # 117049297
_ALPHA_D = (0, 3896, 26014)  # 127690142
_ALPHA_I_LOW = -15922055  # 1057819769 - 2**30
_ALPHA_F = (0, 19483, 31764)  # 638450708
_QUARTER_Q6 = 0x800000  # Rescale<6>(1/4)


def _bits(x):
    """The bit length of 0 < x < 2**30 (32 - CountLeadingZeros32(x))."""
    bits = 0
    while x >> bits:
        bits += 1
    return bits


def log_q5(total):
    """log_x_for_x_greater_than_or_equal_to_1<5>(total as Q12.19).raw() for 2**19 <= total <
    2**30: a Q5.26 value in [0, 2**29)."""
    bits = _bits(total)
    headroom = 32 - bits  # CountLeadingZeros32(total), 2..12
    # z_a: r_a_tmp = total << (headroom - 1) = 2**30 + a, a = 2 * ((total << (30 - bits)) - 2**29)
    a = ((total << (30 - bits)) - _HALF_ONE) << 1
    # SRDHM(2**30 + a, sqrt_half) = sqrt_half / 2 + SRDHM(a, sqrt_half): 2**30 * c / 2**31 is exact
    s = srdhm(a, _SQRT_HALF[0], _SQRT_HALF[1], _SQRT_HALF[2])
    # r_a = SaturatingRoundingMultiplyByPOT<1>(sqrt_half / 2 + s) = 2**30 + r_a_low
    if s > _SMALL_MAX - _SQRT_HALF_HALF:
        r_low = _SMALL_MAX  # saturated: 2**31 - 1
    else:
        r_low = 2 * s + (_SQRT_HALF_HALF - _HALF_ONE) * 2
    power = ((12 - headroom) << 25) + _QUARTER_Q6  # z_a_pow_2_adj, Q6.25
    # z_b = total * sqrt_half; r_b = total << (CountLeadingZeros(z_b) - 1), saturating
    z_b = srdhm(total, _SQRT_HALF[0], _SQRT_HALF[1], _SQRT_HALF[2])
    headroom_b = 31 - _bits(z_b)
    if total > _SMALL_MAX >> (headroom_b - 1):  # 2**(31 - headroom_b) - 1
        b_low = _SMALL_MAX  # saturated: 2**31 - 1
    else:
        b_low = ((total << (headroom_b - 1)) - _HALF_ONE) << 1
    power_b = ((12 - headroom_b) << 25) - _QUARTER_Q6
    if b_low < r_low:
        r_low = b_low
    if power_b > power:
        power = power_b
    # r = 2**30 + r_low; p = RoundingHalfSum(r, sqrt_sqrt_half) = 2**30 + p_low
    p_low = (r_low >> 1) + (_SQRT_SQRT_HALF_LOW + 1) // 2
    q = (r_low - _SQRT_SQRT_HALF_LOW) << 1  # q = r - sqrt_sqrt_half; q = q + q
    u = -q if q < 0 else q
    common_sq = srdhm(u, 0, u >> 15, u & _LIMB)  # q * q
    num = srdhm(q, 1, r_low >> 15, r_low & _LIMB)  # q * r
    t = srdhm(q, 0, common_sq >> 15, common_sq & _LIMB)
    num += srdhm(t, _ALPHA_N[0], _ALPHA_N[1], _ALPHA_N[2])
    # inner = alpha_i + q + alpha_d * common_sq = 2**30 * t2 + t1, 0 <= t1 < 2**30
    t1 = _ALPHA_I_LOW + q + srdhm(common_sq, _ALPHA_D[0], _ALPHA_D[1], _ALPHA_D[2])
    if t1 < 0:
        t1 = t1 + _SMALL_MAX + 1
        t2 = 0
    else:
        t2 = 1
    # SRDHM(p, inner) with p = 2**30 + p_low: 2**29 * t2 + w + H, where W = p_low * t2 + t1 =
    # 2w + wb and H = floor((p_low * t1 + 2**30 * (1 + wb)) / 2**31)
    odd = (p_low & 1) * t2 + (t1 & 1)
    w = (p_low >> 1) * t2 + (t1 >> 1) + (odd >> 1)
    if odd & 1:
        high = 1 + _high(p_low, t1, 0, 0)
    else:
        high = _high(p_low, t1, 0, 1)
    f = srdhm(q, _ALPHA_F[0], _ALPHA_F[1], _ALPHA_F[2])  # alpha_f * q
    # denominator - 1 = 2**29 * t2 + w + high + f; the reciprocal needs half of it, floored
    half_sum = (w >> 1) + (high >> 1) + (f >> 1) + (((w & 1) + (high & 1) + (f & 1)) >> 1)
    half = reciprocal_half((t2 << 28) + half_sum)
    if half == SATURATED:
        r2 = 1
        r1 = _LIMB
        r0 = _LIMB
    else:  # the reciprocal is 2 * half
        r2 = half >> 29
        r1 = (half >> 14) & _LIMB
        r0 = (half & 0x3FFF) << 1
    scaled = rounding_divide_by_pot(num, 6, 63)  # Rescale<6>(num)
    total_q6 = srdhm(power, _LOG_2[0], _LOG_2[1], _LOG_2[2]) + srdhm(scaled, r2, r1, r0)
    return total_q6 << 1  # Rescale<5>: |total_q6| < 2**28, no saturation
