"""MAX_POOL_2D, AVERAGE_POOL_2D and MEAN with the viper backend: same integers as python_pool.

The pools read raw codes over the in-image taps of each window (python_conv's tap tables);
a sum is at most 128 * 2**22 in magnitude (filter_height * filter_width < 2**22). MEAN sums a
block of channels over H x W into an int32 scratch, starting from -input_zero_point * count,
so every partial sum stays within +-255 * count < 2**30, then requantizes it with
viper_requant (the multiplier already holds 1 / count).
"""

# ruff: noqa: F821 - ptr8, ptr16, ptr32 and uint are the viper emitter's own types

from array import array

import micropython
from micropython import const

from .viper_requant import requantize, table
from .window import tap_ranges

ACC_WORDS = 64  # MEAN's accumulator scratch: channels per block

_IN_W = const(0)
_CHANNELS = const(1)
_OUT_H = const(2)
_OUT_W = const(3)
_S_H = const(4)
_S_W = const(5)
_PAD_T = const(6)
_PAD_L = const(7)
_ACT_MIN = const(8)  # + 128
_ACT_MAX = const(9)  # + 128
_AVERAGE = const(10)


def prepare(op, params, tensors):
    if op.name == "MEAN":
        in_h, in_w, channels, input_zp, output_zp, multiplier, shift = params
        count = in_h * in_w
        # TFLM's QuantizedMeanOrSum clamps to the int8 range only (MEAN has no activation)
        words = table([multiplier], [shift], channels, output_zp, -128, 127)
        block = channels if channels < ACC_WORDS else ACC_WORDS
        return (None, count, channels, input_zp * count, words, array("i", bytes(4 * block)))
    in_h, in_w, channels, out_h, out_w, f_h, f_w, s_h, s_w, pad_t, pad_l, act_min, act_max = params
    ky_first, ky_end = tap_ranges(out_h, s_h, pad_t, f_h, 1, in_h)
    kx_first, kx_end = tap_ranges(out_w, s_w, pad_l, f_w, 1, in_w)
    taps = array("i", bytes(4 * 2 * (out_h + out_w)))
    for oy in range(out_h):
        taps[2 * oy] = ky_first[oy]
        taps[2 * oy + 1] = ky_end[oy]
    for ox in range(out_w):
        taps[2 * (out_h + ox)] = kx_first[ox]
        taps[2 * (out_h + ox) + 1] = kx_end[ox]
    geometry = array("i", (in_w, channels, out_h, out_w, s_h, s_w, pad_t, pad_l, 0, 0, 0))
    geometry[_ACT_MIN] = act_min + 128
    geometry[_ACT_MAX] = act_max + 128
    geometry[_AVERAGE] = 1 if op.name == "AVERAGE_POOL_2D" else 0
    return (geometry, taps)


def run(plan, a, b, out):
    if plan[0] is not None:
        _pool(a, out, plan[0], plan[1])
        return
    _, count, channels, offset, words, acc = plan
    block = len(acc)
    first = 0
    while first < channels:
        width = channels - first if channels - first < block else block
        _channel_sums(a, acc, count, channels, first, width, offset)
        requantize(0, 0, 0, acc, out, first, 1, first, width, words)
        first += width


@micropython.viper
def _pool(x: ptr8, out: ptr8, geometry: ptr32, taps: ptr32):
    in_w = geometry[_IN_W]
    channels = geometry[_CHANNELS]
    out_h = geometry[_OUT_H]
    out_w = geometry[_OUT_W]
    act_min = geometry[_ACT_MIN] - 128
    act_max = geometry[_ACT_MAX] - 128
    average = geometry[_AVERAGE]
    kx_at = 2 * out_h
    at = 0
    for oy in range(out_h):
        y0 = oy * geometry[_S_H] - geometry[_PAD_T]
        y1 = y0 + taps[2 * oy + 1]
        y0 += taps[2 * oy]
        for ox in range(out_w):
            x0 = ox * geometry[_S_W] - geometry[_PAD_L]
            x1 = x0 + taps[kx_at + 2 * ox + 1]
            x0 += taps[kx_at + 2 * ox]
            for c in range(channels):
                if average:
                    total = 0
                    for y in range(y0, y1):
                        pixel = (y * in_w + x0) * channels + c
                        for _ in range(x0, x1):
                            total += (x[pixel] ^ 0x80) - 0x80
                            pixel += channels
                    count = (y1 - y0) * (x1 - x0)
                    if total > 0:  # round half away from zero, as (total +- count // 2) / count
                        v = (total + (count >> 1)) // count
                    else:
                        v = 0 - ((0 - total + (count >> 1)) // count)
                else:
                    v = -128
                    for y in range(y0, y1):
                        pixel = (y * in_w + x0) * channels + c
                        for _ in range(x0, x1):
                            code = (x[pixel] ^ 0x80) - 0x80
                            if code > v:
                                v = code
                            pixel += channels
                if v < act_min:
                    v = act_min
                elif v > act_max:
                    v = act_max
                out[at] = v
                at += 1


@micropython.viper
def _channel_sums(
    x: ptr8, acc: ptr32, count: int, channels: int, first: int, width: int, offset: int
):
    """acc[j] = sum of channel first + j over the count pixels, minus offset."""
    for j in range(width):
        total = 0 - offset
        pixel = first + j
        for _ in range(count):
            total += (x[pixel] ^ 0x80) - 0x80
            pixel += channels
        acc[j] = total
