"""The viper backend's requantization: int32 accumulators to clamped int8 outputs.

Viper ints are machine words: 32 bits on the boards, 64 on the unix VM, and overflow wraps
silently. So the arithmetic is fixedpoint.srdhm's, line for line: base-2**15 limbs, every
product and every sum below 2**30 (the bounds are argued in fixedpoint.py). Values that viper
reads from memory follow two rules that hold for any word size:
- ptr8 and ptr16 loads are unsigned: an int8 is (v ^ 0x80) - 0x80;
- a ptr32 load is signed on a 32-bit board but unsigned on the 64-bit VM, so a signed int32 v
  (bias, accumulator; |v| < 2**30) is rebuilt from its two 16-bit halves,
  (v & 0xFFFF) | ((((v >> 16) & 0xFFFF) ^ 0x8000) - 0x8000) << 16: the high half is in
  [-2**14, 2**14) and every step stays below 2**30 in magnitude.
Constants are at most 2**30 - 1: a larger literal is not a small int on a board.
"""

# ruff: noqa: F821 - ptr8, ptr16, ptr32 and uint are the viper emitter's own types

import micropython
from micropython import const

from .buffers import unfilled
from .fixedpoint import Requant

_HEAD = const(8)  # table words before the first channel's entry
_STRIDE = const(3)  # halfwords per channel: left | right << 5 | q2 << 10, q1, q0


def table(multipliers, shifts, period, zero_point, act_min, act_max):
    """Load time: the array('H') of halfwords that requantize() reads (6 bytes a channel).

    period: output channels per position (the distance between two pixels of an NHWC tensor;
    out_features for FULLY_CONNECTED). One multiplier means per-tensor: every channel uses it.
    The output zero point and clamps are stored plus 128, so that no word is negative.
    """
    rq = Requant(multipliers, shifts)
    count = len(multipliers)
    words = unfilled("H", _HEAD + _STRIDE * count)  # the unused words keep small values
    words[0] = count
    words[1] = period
    words[2] = zero_point + 128
    words[3] = act_min + 128
    words[4] = act_max + 128
    for c in range(count):
        at = _HEAD + _STRIDE * c
        words[at] = rq.codes[c]  # left | right << 5 | q2 << 10
        words[at + 1] = rq.limbs[c] >> 15
        words[at + 2] = rq.limbs[c] & 0x7FFF
    return words


@micropython.viper
def requantize(acc: ptr32, out: ptr8, at: int, pixels: int, first: int, width: int, words: ptr16):
    """Channels first .. first+width-1 of `pixels` consecutive output positions:
    out[at + p * period + j] = clamp(MBQM(acc[p * width + j], channel first + j) + zero_point).

    `at` is the output index of the first pixel's channel `first`. Every acc * 2**left is
    inside (-2**30, 2**30) by the container's 31-bit bound (values.py).
    """
    per_channel = words[0] > 1
    period = words[1]
    zero_point = words[2] - 128
    act_min = words[3] - 128
    act_max = words[4] - 128
    low = act_min - zero_point  # v below low clamps to act_min: compared before adding the
    high = act_max - zero_point  # zero point, as the python kernels do
    k = 0
    for p in range(pixels):
        e = _HEAD + _STRIDE * first if per_channel else _HEAD
        o = at + p * period
        for j in range(width):
            x = acc[k]
            k += 1
            x = (x & 0xFFFF) | ((((x >> 16) & 0xFFFF) ^ 0x8000) - 0x8000) << 16
            shifts = words[e]
            x = x << (shifts & 31)
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
            if rounded < low:
                out[o + j] = act_min
            elif rounded > high:
                out[o + j] = act_max
            else:
                out[o + j] = rounded + zero_point
            if per_channel:
                e += _STRIDE
