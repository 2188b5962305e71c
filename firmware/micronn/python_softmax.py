"""SOFTMAX over the last axis in 31-bit small ints, bit-exact with TFLM's int8 reference kernel.

The container's `exp` table holds, for each difference d = q - max(row) = -i, gemmlowp's
exp_on_negative_values of d rescaled to Q5.26, as Q0.31 (0 where TFLM skips d; up to 2**31 - 1).
At load each entry is split into base-2**15 limbs e2, e1, e0. Per row, predict sums the Q12.19
terms RoundingDivideByPOT(exp, 12) = (e2 << 18) + (e1 << 3) + ((e0 + 2048) >> 12) (each at most
2**19, the sum at most depth * 2**19 < 2**30), inverts the sum with reciprocal.py to S (Q0.31, as
limbs) and
writes, with e = 35 - CountLeadingZeros(sum),
    out = clamp(RoundingDivideByPOT(SRDHM(S, exp), e) - 128)
        = clamp(floor((S * exp + 2**30 + 2**(30 + e)) / 2**(31 + e)) - 128)
(both roundings fold into one floor because S * exp >= 0). With Y = floor((S * exp + 2**30) /
2**45), summed in limbs, that is (Y + 2**(e - 15)) >> (e - 14) since 31 + e >= 54.
"""

from array import array

from .reciprocal import SATURATED, reciprocal_half, sum_bits

_LIMB = 0x7FFF
MAX_DEPTH = 2047
TABLE_SIZE = 256


def prepare(op, params, tensors):
    """Load time: the limbs of the exp table (its entries may be long ints here)."""
    rows, depth = params[0], params[1]
    exps = tensors[0]
    if not 1 <= depth <= MAX_DEPTH or len(exps) != TABLE_SIZE:
        raise ValueError(
            f"SOFTMAX needs depth 1..{MAX_DEPTH} and a {TABLE_SIZE}-entry exp table; "
            "re-convert the model with `micronn convert`"
        )
    e2 = bytearray(TABLE_SIZE)
    e1 = array("h", bytes(2 * TABLE_SIZE))
    e0 = array("h", bytes(2 * TABLE_SIZE))
    for i in range(TABLE_SIZE):
        value = exps[i]
        if value < 0:
            raise ValueError("SOFTMAX exp table entries must be >= 0; re-convert the model")
        e2[i] = value >> 30
        e1[i] = (value >> 15) & _LIMB
        e0[i] = value & _LIMB
    return (rows, depth, e2, e1, e0)


def term(plan, i):
    """Entry i's Q12.19 term, RoundingDivideByPOT(exp, 12): what run() sums for a row."""
    e2, e1, e0 = plan[2:]
    return (e2[i] << 18) + (e1[i] << 3) + ((e0[i] + 2048) >> 12)


def run(plan, a, b, out):
    rows, depth, e2, e1, e0 = plan
    start = 0
    for _ in range(rows):
        end = start + depth
        top = a[start]
        for c in range(start + 1, end):
            if a[c] > top:
                top = a[c]
        total = 0
        for c in range(start, end):
            i = top - a[c]
            total += (e2[i] << 18) + (e1[i] << 3) + ((e0[i] + 2048) >> 12)
        bits = sum_bits(total)
        # GetReciprocal: a = total * 2**(32 - bits) - 2**31 = 2h, exponent = bits + 3
        half = reciprocal_half((total - (1 << (bits - 1))) << (31 - bits))
        if half == SATURATED:
            s2 = 1
            s1 = _LIMB
            s0 = _LIMB
        else:  # S = 2 * half
            s2 = half >> 29
            s1 = (half >> 14) & _LIMB
            s0 = (half & 0x3FFF) << 1
        down = bits - 11  # exponent - 14
        rounding = 1 << (bits - 12)  # 2**(exponent - 15)
        for c in range(start, end):
            i = top - a[c]
            x2 = e2[i]
            x1 = e1[i]
            x0 = e0[i]
            # S * exp + 2**30 in base 2**15 columns, every partial sum below 2**18
            carry = (s0 * x0) >> 15
            p = s1 * x0
            r = s0 * x1
            low = (p & _LIMB) + (r & _LIMB) + carry
            carry = (p >> 15) + (r >> 15) + (low >> 15)
            p = s1 * x1
            low = (p & _LIMB) + s2 * x0 + s0 * x2 + 1 + carry
            high = (p >> 15) + (low >> 15) + s2 * x1 + s1 * x2 + ((s2 * x2) << 15)
            value = ((high + rounding) >> down) - 128
            out[c] = 127 if value > 127 else value
        start = end
