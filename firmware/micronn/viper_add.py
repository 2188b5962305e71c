"""ADD with the viper backend: same integers as python_add (TFLM's AddFunc).

Per element, three requantizations (each input to the common scale, then the sum to the
output) run through one copy of fixedpoint.srdhm's limb arithmetic. |(q + offset) <<
left_shift| <= 255 * 2**20 < 2**28, every multiplier is below one and every shift <= 0, so the
sum of the two rescaled inputs is below 2**29: every value stays below 2**30, as in
python_add.
"""

# ruff: noqa: F821 - ptr8, ptr16, ptr32 and uint are the viper emitter's own types

import micropython
from micropython import const

from .viper_requant import table

_HEAD = const(8)  # viper_requant's table layout: channel c at _HEAD + _STRIDE * c
_STRIDE = const(3)


def prepare(op, params, tensors):
    size, offset1, offset2, output_offset, left_shift = params[:5]
    multipliers = (params[5], params[7], params[9])
    shifts = (params[6], params[8], params[10])
    for shift in shifts:
        if shift > 0:
            raise ValueError("ADD shifts must be <= 0; re-convert the model")
    # channels 0, 1: the inputs; 2: the output (with its zero point and clamp)
    words = table(multipliers, shifts, 3, output_offset, params[11], params[12])
    return (size, offset1, offset2, left_shift, words)


def run(plan, a, b, out):
    size, offset1, offset2, left_shift, words = plan
    _add(a, b, out, size, offset1, offset2, left_shift, words)


@micropython.viper
def _add(
    a: ptr8, b: ptr8, out: ptr8, size: int, offset1: int, offset2: int, shift: int, words: ptr16
):
    """out[i] = clamp(MBQM(MBQM(x1, m1) + MBQM(x2, m2), m3) + zero_point), with
    x1 = (a[i] + offset1) << shift and x2 = (b[i] + offset2) << shift."""
    zero_point = words[2] - 128
    low = words[3] - 128 - zero_point
    high = words[4] - 128 - zero_point
    for i in range(size):
        total = 0
        result = 0
        for stage in range(3):
            e = _HEAD + _STRIDE * stage
            if stage == 0:
                x = (((a[i] ^ 0x80) - 0x80) + offset1) << shift
            elif stage == 1:
                x = (((b[i] ^ 0x80) - 0x80) + offset2) << shift
            else:
                x = total
            shifts = words[e]
            q2 = shifts >> 10
            q1 = words[e + 1]
            q0 = words[e + 2]
            # SaturatingRoundingDoublingHighMul(x, q2 * 2**30 + q1 * 2**15 + q0): fixedpoint.srdhm
            if x >= 0:
                u = x
                nudge01 = 0
                nudge2 = 1
            else:
                u = 0 - x
                nudge01 = 0x7FFF
                nudge2 = 0
            u1 = u >> 15
            u0 = u & 0x7FFF
            carry = (u0 * q0 + nudge01) >> 15
            product = u1 * q0
            other = u0 * q1
            column = (product & 0x7FFF) + (other & 0x7FFF) + nudge01 + carry
            carry = (product >> 15) + (other >> 15) + (column >> 15)
            product = u1 * q1
            column = (product & 1) + u0 * q2 + carry + nudge2
            v = (product >> 1) + (column >> 1) + ((u1 * q2) << 14)
            if x < 0:
                v = 0 - v
            # RoundingDivideByPOT(v, right): ties away from zero
            right = (shifts >> 5) & 31
            mask = 0x3FFFFFFF >> (30 - right)  # 2**right - 1, never forming 2**30
            threshold = mask >> 1
            if v < 0:
                threshold += 1
            rounded = v >> right
            if (v & mask) > threshold:
                rounded += 1
            if stage < 2:
                total += rounded
            else:
                result = rounded
        if result < low:
            out[i] = low + zero_point
        elif result > high:
            out[i] = high + zero_point
        else:
            out[i] = result + zero_point
