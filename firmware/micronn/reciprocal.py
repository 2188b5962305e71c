"""TFLM's GetReciprocal (gemmlowp one_over_one_plus_x_for_x_in_0_1) in 31-bit small ints.

SOFTMAX divides by its Q12.19 sum s (2**19 <= s < 2**30) through
    GetReciprocal(s, 12) = one_over_one_plus_x_for_x_in_0_1(a),  a = s * 2**clz(s) - 2**31,
three Newton-Raphson steps in int32 fixed point whose operands reach 2**31. Here every int32 of
the C++ is rewritten as a sum of small ints with exact integer identities:
- the half denominator RoundingHalfSum(a, 2**31 - 1) is 2**30 + h, h = a >> 1 < 2**30;
- a product with it, SRDHM(2**30 + h, y), splits into y / 2 plus a high product of h and y,
  taken in base 2**15 limbs by _high();
- the estimate x (Q2.29) stays in (2**28, 2**30) until the last step, which may reach 2**30 and
  then saturates the Q0.31 result to 2**31 - 1; the corrections stay below 2**28
  (tests/test_softmax_ranges.py; with MICRONN_EXHAUSTIVE=1 for every reachable sum).
"""

from .fixedpoint import srdhm

_LIMB = 0x7FFF  # 15 bits
_SMALL_MAX = 0x3FFFFFFF  # 2**30 - 1
_ONE_Q2 = 0x20000000  # 1.0 in Q2.29
# 48/17 and -32/17 in Q2.29 (gemmlowp); the first is above 2**30, so it only appears in the
# combination 48/17 - (32/17) / 2 = 32/17 = _THIRTY_TWO_SEVENTEENTHS (see reciprocal_half).
_THIRTY_TWO_SEVENTEENTHS = 1010580540
SATURATED = -1


def _high(u, v, nudge01, nudge2):
    """floor((u * v + nudge2 * 2**30 + nudge01 * (2**15 + 1)) / 2**31) for 0 <= u, v < 2**30,
    nudge01 in {0, 0x7FFF} (0x7FFF * (2**15 + 1) = 2**30 - 1) and nudge2 in {0, 1}.

    u * v is summed column by column in base 2**15; every product of two limbs is below 2**30
    and every column sum below 2**18, as in fixedpoint.srdhm.
    """
    u1 = u >> 15
    u0 = u & _LIMB
    v1 = v >> 15
    v0 = v & _LIMB
    carry = (u0 * v0 + nudge01) >> 15
    p = u1 * v0
    r = u0 * v1
    low = (p & _LIMB) + (r & _LIMB) + nudge01 + carry
    carry = (p >> 15) + (r >> 15) + (low >> 15)
    # column 2 (weight 2**30) is p + nudge2 + carry; halve it without forming the sum
    p = u1 * v1
    return (p >> 1) + (((p & 1) + nudge2 + carry) >> 1)


def _times_half_denominator(h, x):
    """SRDHM(2**30 + h, x) for 0 <= h, x < 2**30: with x = 2q + b it is
    q + floor((h * x + 2**30 * (1 + b)) / 2**31)."""
    if x & 1:
        return (x >> 1) + 1 + _high(h, x, 0, 0)
    return (x >> 1) + _high(h, x, 0, 1)


def reciprocal_half(h):
    """Half of one_over_one_plus_x_for_x_in_0_1(a) for a = 2h, 0 <= h < 2**30, or SATURATED
    when the Q0.31 result is 2**31 - 1. Otherwise the result is exactly twice the return value.
    """
    # x = 48/17 + SRDHM(2**30 + h, -32/17); the product is negative, so its nudge is 2**30 - 1
    x = _THIRTY_TWO_SEVENTEENTHS - _high(h, _THIRTY_TWO_SEVENTEENTHS, _LIMB, 0)
    for _ in range(3):
        u = _ONE_Q2 - _times_half_denominator(h, x)  # 1 - half_denominator * x, Q2.29
        step = srdhm(u, 0, x >> 15, x & _LIMB) << 2  # Rescale<2>(x * u); |x * u| < 2**28
        if step > _SMALL_MAX - x:
            return SATURATED  # x reached 2**30: Rescale<0> saturates (last step only)
        x += step
    return x


def sum_bits(total):
    """The bit length of total, 2**19 <= total < 2**30: 32 - CountLeadingZeros(total)."""
    bits = 20
    while total >> bits:
        bits += 1
    return bits
