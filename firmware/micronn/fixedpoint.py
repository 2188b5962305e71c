"""TFLite Micro's requantization (MultiplyByQuantizedMultiplier, double rounding) in 31-bit ints.

Boards keep small ints in [-2**30, 2**30 - 1]; anything outside becomes a heap-allocated long
int. The multiplier (up to 2**31 - 1) is split at load into three base-2**15 limbs
q2 * 2**30 + q1 * 2**15 + q0, so that predict multiplies only numbers below 2**15. The container
guarantees |acc| * 2**left < 2**30 for every accumulator (docs/format.md, "31-bit bound").
"""

from array import array

_LIMB_MASK = 0x7FFF  # 15 bits


class Requant:
    """Per-channel multiplier limbs and shifts, prepared once at load, two words a channel:
    limbs[c] = q1 * 2**15 + q0 (the multiplier's low 30 bits) and codes[c] = left + 32 * right
    + 1024 * q2. in_place: write them over the int32 multiplier and shift arrays given (the
    container's own, which nothing reads after prepare), so that they cost no more heap."""

    def __init__(self, multipliers, shifts, in_place=False):
        count = len(multipliers)
        if in_place:
            limbs, codes = multipliers, shifts
        else:
            limbs = array("i", bytes(4 * count))
            codes = array("h", bytes(2 * count))
        for c in range(count):
            multiplier = multipliers[c]  # may be a long int on a board: load time only
            shift = shifts[c]
            right = -shift if shift < 0 else 0
            if right > 30:
                # RoundingDivideByPOT(v, 31) is 0 for every |v| < 2**30, and so is this channel.
                multiplier = 0
                right = 0
            limbs[c] = multiplier & 0x3FFFFFFF
            codes[c] = (shift if shift > 0 else 0) | (right << 5) | ((multiplier >> 30) << 10)
        self.limbs = limbs
        self.codes = codes


def srdhm(x, q2, q1, q0):
    """gemmlowp SaturatingRoundingDoublingHighMul(x, q2 * 2**30 + q1 * 2**15 + q0), |x| < 2**30.

    With u = |x| and qm the multiplier, this is floor((u * qm + nudge) / 2**31), negated when
    x < 0, where nudge is 2**30 for x >= 0 and 2**30 - 1 for x < 0: the same as gemmlowp's
    truncating division of x * qm + (2**30 or 1 - 2**30). u * qm is summed column by column in
    base 2**15. Every limb is < 2**15, so every product is < 2**30; the bounds in the comments
    show that no sum reaches 2**30 either.
    """
    if x >= 0:
        u = x
        nudge01 = 0  # 2**30 is a 1 in column 2
        nudge2 = 1
    else:
        u = -x
        nudge01 = _LIMB_MASK  # 2**30 - 1 is 0x7FFF in columns 0 and 1
        nudge2 = 0
    u1 = u >> 15
    u0 = u & _LIMB_MASK
    # column 0: u0*q0 + nudge <= (2**15 - 1) * 2**15; its carry < 2**15
    carry = (u0 * q0 + nudge01) >> 15
    # column 1: two products, each split into 15-bit halves so the sum stays small
    p = u1 * q0
    r = u0 * q1
    low = (p & _LIMB_MASK) + (r & _LIMB_MASK) + nudge01 + carry  # < 4 * 2**15
    carry = (p >> 15) + (r >> 15) + (low >> 15)  # < 2**16 + 4
    # column 2 (weight 2**30): S = u1*q1 + u0*q2 + carry + nudge2 may pass 2**30, so halve
    # u1*q1 first; floor(S / 2) = (p >> 1) + (((p & 1) + rest) >> 1)
    p = u1 * q1  # < 2**30
    low = (p & 1) + u0 * q2 + carry + nudge2  # < 2**15 + 2**16 + 6
    # column 3 (weight 2**45) is u1*q2; halved it lands at 2**14 in units of 2**30.
    # The total is floor((u*qm + nudge) / 2**31) <= 2**30 - 1 for u, qm below 2**30, 2**31,
    # and every partial sum of these non-negative terms is below it.
    v = (p >> 1) + (low >> 1) + ((u1 * q2) << 14)
    return v if x >= 0 else -v


def rounding_divide_by_pot(v, right, mask):
    """gemmlowp RoundingDivideByPOT(v, right) for right in [0, 30]: ties away from zero."""
    threshold = mask >> 1
    if v < 0:
        threshold += 1
    if (v & mask) > threshold:
        return (v >> right) + 1
    return v >> right


def requantize(acc, rq, c):
    """MultiplyByQuantizedMultiplier(acc, multiplier[c], shift[c]) as TFLite Micro computes it."""
    code = rq.codes[c]
    limbs = rq.limbs[c]
    right = (code >> 5) & 31
    v = srdhm(acc << (code & 31), code >> 10, limbs >> 15, limbs & _LIMB_MASK)
    return rounding_divide_by_pot(v, right, 0x3FFFFFFF >> (30 - right))
