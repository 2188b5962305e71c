"""MUL, MAXIMUM and MINIMUM with the viper backend: the integers of python_broadcast (TFLM's
MulElementwise with broadcasting; the maximum / minimum of raw codes). The family's other
operators (SUB, ADD_BROADCAST, PRELU) run with python_broadcast (OPS, backends.viper_kernel).
The 4-D output walk reads its dims and strides (all below 2**24) from an array('i'); the product
of two offset codes is at most 255 * 255 and the container allows a left shift of at most 14, so
the requantization's input stays below 2**30 as in viper_requant.
"""

# ruff: noqa: F821 - ptr8, ptr16, ptr32 and uint are the viper emitter's own types

from array import array

import micropython
from micropython import const

from .viper_requant import table

_HEAD = const(8)  # viper_requant's table layout: the one channel's entry at _HEAD
OPS = ("MUL", "MAXIMUM", "MINIMUM")


def prepare(op, params, tensors):
    if op.name == "MAXIMUM" or op.name == "MINIMUM":
        return (array("i", params[0:12]), 1 if op.name == "MAXIMUM" else -1, 0, None)
    if op.name != "MUL":
        raise ValueError(f"viper_broadcast does not run {op.name}; update micronn")
    zp1, zp2, zp_out, multiplier, shift, act_min, act_max = params[12:19]
    words = table((multiplier,), (shift,), 1, zp_out, act_min, act_max)
    return (array("i", params[0:12]), -zp1, -zp2, words)


def run(plan, a, b, out):
    geometry, offset1, offset2, words = plan
    if words is None:
        _extreme(a, b, out, geometry, offset1)
    else:
        _mul(a, b, out, geometry, offset1, offset2, words)


@micropython.viper
def _extreme(a: ptr8, b: ptr8, out: ptr8, g: ptr32, sign: int):
    """MAXIMUM (sign 1) or MINIMUM (sign -1) of the raw codes; g as _mul's."""
    d0 = g[0]
    d1 = g[1]
    d2 = g[2]
    d3 = g[3]
    i = 0
    for i0 in range(d0):
        for i1 in range(d1):
            for i2 in range(d2):
                j1 = i0 * g[4] + i1 * g[5] + i2 * g[6]
                j2 = i0 * g[8] + i1 * g[9] + i2 * g[10]
                for _ in range(d3):
                    x = (a[j1] ^ 0x80) - 0x80
                    y = (b[j2] ^ 0x80) - 0x80
                    if (x - y) * sign > 0:
                        out[i] = x
                    else:
                        out[i] = y
                    i += 1
                    j1 += g[7]
                    j2 += g[11]


@micropython.viper
def _mul(a: ptr8, b: ptr8, out: ptr8, g: ptr32, offset1: int, offset2: int, words: ptr16):
    """g: out_dim0..3, input1_stride0..3, input2_stride0..3 (ops/broadcast.py)."""
    d0 = g[0]
    d1 = g[1]
    d2 = g[2]
    d3 = g[3]
    zero_point = words[2] - 128
    low = words[3] - 128 - zero_point
    high = words[4] - 128 - zero_point
    shifts = words[_HEAD]
    left = shifts & 31
    right = (shifts >> 5) & 31
    q2 = shifts >> 10
    q1 = words[_HEAD + 1]
    q0 = words[_HEAD + 2]
    mask = 0x3FFFFFFF >> (30 - right)  # 2**right - 1, never forming 2**30
    i = 0
    for i0 in range(d0):
        for i1 in range(d1):
            for i2 in range(d2):
                j1 = i0 * g[4] + i1 * g[5] + i2 * g[6]
                j2 = i0 * g[8] + i1 * g[9] + i2 * g[10]
                for _ in range(d3):
                    x = (((a[j1] ^ 0x80) - 0x80) + offset1) * (((b[j2] ^ 0x80) - 0x80) + offset2)
                    x = x << left
                    # SaturatingRoundingDoublingHighMul(x, q2 * 2**30 + q1 * 2**15 + q0)
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
                    threshold = mask >> 1
                    if v < 0:
                        threshold += 1
                    rounded = v >> right
                    if (v & mask) > threshold:
                        rounded += 1
                    if rounded < low:
                        out[i] = low + zero_point
                    elif rounded > high:
                        out[i] = high + zero_point
                    else:
                        out[i] = rounded + zero_point
                    i += 1
                    j1 += g[7]
                    j2 += g[11]
