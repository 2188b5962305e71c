"""The viper backend's requantization: int32 accumulators to clamped int8 outputs.

Viper ints are machine words: 32 bits on the boards, 64 on the unix VM, and overflow wraps
silently. So the arithmetic works in base-2**15 limbs, every product and every sum below 2**30,
and rounds once where fixedpoint.srdhm then rounding_divide_by_pot round twice: requantize's
docstring has the identity (nested floors of integer divisions are one floor), and the same
integers for every multiplier, shift and |acc * 2**left| < 2**30. Values that viper
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
def requantize(
    v: int,
    hi: int,
    lo: int,
    acc: ptr32,
    out: ptr8,
    at: int,
    pixels: int,
    first: int,
    width: int,
    words: ptr16,
):
    """Channels first .. first+width-1 of `pixels` consecutive output positions:
    out[at + p * period + j] = clamp(MBQM(acc[p * width + j], channel first + j) + zero_point).

    `at` is the output index of the first pixel's channel `first`. Every acc * 2**left is
    inside (-2**30, 2**30) by the container's 31-bit bound (values.py). v, hi and lo are
    working words passed in (as 0) only so that they are the first locals, which the native
    emitter keeps in registers.

    MBQM in one rounding (the module's docstring): with u = |acc| * 2**left, qm = q2 * 2**30 +
    m (m = q1 * 2**15 + q0) and n = 1 for a negative acc, else 0, SaturatingRoundingDoublingHigh
    Mul then RoundingDivideByPOT(right) is +-floor((u * qm + 2**30 - n + 2**(30 + right) [right
    > 0]) / 2**(31 + right)), which is +-R(floor((q2 * u + T + 1) / 2)) with T = floor((u * m -
    n) / 2**30) < 2**30 and R(z) = z for right = 0, else (z >> right) + bit right - 1 of z.
    """
    per_channel = words[0] > 1
    period = words[1]
    zero_point = words[2] - 128
    act_min = words[3] - 128
    act_max = words[4] - 128
    low = act_min - zero_point  # v below low clamps to act_min: compared before adding the
    high = act_max - zero_point  # zero point, as the python kernels do
    clamps_below_zero = 0  # a ReLU-like clamp: every accumulator <= 0 gives act_min
    if low >= 0:
        clamps_below_zero = 1
    k = 0
    for p in range(pixels):
        e = _HEAD + _STRIDE * first if per_channel else _HEAD
        o = at + p * period
        for j in range(width):
            v = acc[k]
            k += 1
            v = (v & 0xFFFF) | ((((v >> 16) & 0xFFFF) ^ 0x8000) - 0x8000) << 16
            if v <= 0 and clamps_below_zero:  # MBQM(v) <= 0 <= low: act_min
                out[o + j] = act_min
            else:
                code = words[e]
                v = v << (code & 31)
                negative = 0
                if v < 0:
                    v = 0 - v
                    negative = 1
                hi = v >> 15  # u in 15-bit limbs
                lo = v & 0x7FFF
                q1 = words[e + 1]
                q0 = words[e + 2]
                a = hi * q0
                b = lo * q1
                lo = ((lo * q0 - negative) >> 15) + (a & 0x7FFF) + (b & 0x7FFF)  # < 3 * 2**15
                hi = hi * q1 + (a >> 15) + (b >> 15) + (lo >> 15)  # T
                if code < 1024:  # q2 = 0
                    v = 0
                v = (v >> 1) + (hi >> 1) + (((v & 1) + (hi & 1) + 1) >> 1)
                right = (code >> 5) & 31
                if right:
                    v = (v >> right) + ((v >> (right - 1)) & 1)  # rounds half up
                if negative:
                    v = 0 - v
                if v < low:
                    out[o + j] = act_min
                elif v > high:
                    out[o + j] = act_max
                else:
                    out[o + j] = v + zero_point
            if per_channel:
                e += _STRIDE
