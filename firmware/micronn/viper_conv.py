"""CONV_2D and DEPTHWISE_CONV_2D with the viper backend: same integers as python_conv.

The output is computed a block of pixels of one output row at a time: the accumulators of
every channel of the block go into a small int32 scratch, then through
viper_requant.requantize. Each partial sum bias + sum of w * (x - input_zero_point) stays
inside the container's bound (|bias| + taps * 255 * wmax) * 2**left < 2**30, as in
python_conv, so a 32-bit word never overflows. int4 / int2 weights are decoded where they are
read. Strides, dilations and padding use python_conv's tap tables (window.tap_ranges).

int8 CONV_2D whose window fits the scratch runs _gathered instead: each pixel's window is copied
once (im2col) into the scratch, as x + 128, with the input zero point's code in the taps outside
the image (they add zero), and every channel's dot product is then one run over the whole
window, sixteen taps a step. With wu = w + 128 and xu = x + 128 (what ^ 0x80 reads),
sum (wu - 128)(xu - off) = sum wu xu - off sum wu - 128 sum xu + 128 off n, off being the input
zero point + 128 and n the window's size: sum wu (once per channel and call) and sum xu (once
per pixel) take the signs out of the inner loop. For n <= GATHER_TAPS every partial sum stays
below 2 x 255 x 255 x n < 2**30, and the bias is added to the exact dot product last.
"""

# ruff: noqa: F821 - ptr8, ptr16, ptr32 and uint are the viper emitter's own types

from array import array

import micropython
from micropython import const

from .viper_requant import requantize, table
from .window import tap_ranges

ACC_WORDS = 128  # accumulator scratch: 512 bytes, at least one pixel's channels
GATHER_TAPS = 8192  # the largest window _gathered takes (its 2**30 bound, above)
GATHER_WORDS = 512  # int8 CONV_2D: the scratch grows up to 2 KiB so that _gathered runs it


def scratch_words(depthwise, bits, out_c, taps):
    """Words of the layer's scratch: ACC_WORDS or one pixel's accumulators, or (int8 CONV_2D)
    one pixel's accumulators, window and weight sums, when that is at most GATHER_WORDS.
    memory_plan.viper_scratch_words is the same."""
    words = out_c if out_c > ACC_WORDS else ACC_WORDS
    gather = 2 * out_c + (taps + 3) // 4
    if not depthwise and bits == 8 and taps <= GATHER_TAPS and words < gather <= GATHER_WORDS:
        return gather
    return words


# geometry words (all non-negative)
_IN_W = const(0)
_IN_C = const(1)
_OUT_C = const(2)
_K_W = const(3)
_S_H = const(4)
_S_W = const(5)
_D_H = const(6)
_D_W = const(7)
_PAD_T = const(8)
_PAD_L = const(9)
_OFFSET = const(10)  # input zero point + 128: x - zero point = (x ^ 0x80) - offset
_TAPS = const(11)  # weights per output channel
_MULTIPLIER = const(12)  # depth multiplier, 0 for CONV_2D
_BITS = const(13)
_KX_AT = const(14)  # where kx_first starts in the tap table (ky_first is at 0)
_K_H = const(15)

READ_ONLY = 3  # bias and depthwise weights are only read (ptr32, ptr8): views on ROMFS may do


def prepare(op, params, tensors):
    in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, s_h, s_w, d_h, d_w, pad_t, pad_l = params[:14]
    input_zp, output_zp, act_min, act_max = params[-4:]
    depthwise = op.name == "DEPTHWISE_CONV_2D"
    weights, bias, multipliers, shifts = tensors
    ky_first, ky_end = tap_ranges(out_h, s_h, pad_t, k_h, d_h, in_h)
    kx_first, kx_end = tap_ranges(out_w, s_w, pad_l, k_w, d_w, in_w)
    taps = array("i", bytes(4 * 2 * (out_h + out_w)))
    for oy in range(out_h):
        taps[2 * oy] = ky_first[oy]
        taps[2 * oy + 1] = ky_end[oy]
    for ox in range(out_w):
        taps[2 * (out_h + ox)] = kx_first[ox]
        taps[2 * (out_h + ox) + 1] = kx_end[ox]
    geometry = array("i", bytes(4 * 16))
    geometry[_IN_W] = in_w
    geometry[_IN_C] = in_c
    geometry[_OUT_C] = out_c
    geometry[_K_W] = k_w
    geometry[_S_H] = s_h
    geometry[_S_W] = s_w
    geometry[_D_H] = d_h
    geometry[_D_W] = d_w
    geometry[_PAD_T] = pad_t
    geometry[_PAD_L] = pad_l
    geometry[_OFFSET] = input_zp + 128
    geometry[_TAPS] = k_h * k_w if depthwise else k_h * k_w * in_c
    geometry[_MULTIPLIER] = params[14] if depthwise else 0
    geometry[_BITS] = op.weight_bits
    geometry[_KX_AT] = 2 * out_h
    geometry[_K_H] = k_h
    words = table(multipliers, shifts, out_c, output_zp, act_min, act_max)
    size = scratch_words(depthwise, op.weight_bits, out_c, geometry[_TAPS])
    scratch = array("i", bytes(4 * size))
    return (out_h, out_w, out_c, weights, bias, geometry, taps, words, scratch)


def run(plan, a, b, out):
    run_rows(plan, a, out, plan[3], 0, plan[2])


def run_rows(plan, a, out, weights, first, count):
    """Output channels first .. first+count-1. CONV_2D: weights[0] is the first weight of
    channel `first` (the weight placement API: a streamed chunk of the file, starting on a
    byte boundary). DEPTHWISE_CONV_2D: weights is always the whole tensor."""
    out_h, out_w, out_c, _, bias, geometry, taps, words, acc = plan
    if count < 1:
        return
    gathered = _gathers(geometry, count, len(acc))
    depthwise8 = geometry[_MULTIPLIER] and geometry[_BITS] == 8  # always every channel
    if gathered:  # the scratch: accumulators, the window, the weight sums at the end
        window = len(acc) - count - (geometry[_TAPS] + 3) // 4
        block = window // count
        _weight_sums(weights, acc, geometry, len(acc) - count, count)
    else:
        block = len(acc) // count
    if block > out_w:
        block = out_w
    for oy in range(out_h):
        ox = 0
        while ox < out_w:
            pixels = out_w - ox if out_w - ox < block else block
            if gathered:
                _gathered(
                    weights,
                    acc,
                    0,
                    a,
                    weights,
                    bias,
                    acc,
                    geometry,
                    taps,
                    oy,
                    ox,
                    pixels,
                    first,
                    count,
                    window,
                )
            elif depthwise8:
                _depthwise(weights, a, 0, a, weights, bias, acc, geometry, taps, oy, ox, pixels)
            else:
                _accumulate(a, weights, bias, acc, geometry, taps, oy, ox, pixels, first, count)
            at = (oy * out_w + ox) * out_c + first
            requantize(0, 0, 0, acc, out, at, pixels, first, count, words)
            ox += pixels


@micropython.viper
def _accumulate(
    x: ptr8,
    w: ptr8,
    bias: ptr32,
    acc: ptr32,
    geometry: ptr32,
    taps: ptr32,
    oy: int,
    ox0: int,
    pixels: int,
    first: int,
    width: int,
):
    """acc[p * width + j]: the accumulator of output (oy, ox0 + p), channel first + j."""
    in_w = geometry[_IN_W]
    in_c = geometry[_IN_C]
    out_c = geometry[_OUT_C]
    k_w = geometry[_K_W]
    d_h = geometry[_D_H]
    d_w = geometry[_D_W]
    row = geometry[_TAPS]  # weights per output channel
    multiplier = geometry[_MULTIPLIER]
    bits = geometry[_BITS]
    kx_at = geometry[_KX_AT]
    offset = geometry[_OFFSET]
    contiguous = bits == 8 and multiplier == 0 and d_w == 1
    y0 = oy * geometry[_S_H] - geometry[_PAD_T]
    ky0 = taps[2 * oy]
    ky1 = taps[2 * oy + 1]
    k = 0
    for p in range(pixels):
        ox = ox0 + p
        x0 = ox * geometry[_S_W] - geometry[_PAD_L]
        kx0 = taps[kx_at + 2 * ox]
        kx1 = taps[kx_at + 2 * ox + 1]
        for j in range(width):
            o = first + j
            s = bias[o]
            s = (s & 0xFFFF) | ((((s >> 16) & 0xFFFF) ^ 0x8000) - 0x8000) << 16
            for ky in range(ky0, ky1):
                line = (y0 + ky * d_h) * in_w + x0
                if contiguous:  # int8 CONV_2D, dilation_width 1: the taps of this kernel row and
                    # their weights are two runs of bytes
                    image = ptr8(uint(x) + (line + kx0) * in_c)
                    kernel = ptr8(uint(w) + j * row + (ky * k_w + kx0) * in_c)
                    for i in range((kx1 - kx0) * in_c):
                        s += ((kernel[i] ^ 0x80) - 0x80) * ((image[i] ^ 0x80) - offset)
                    continue
                for kx in range(kx0, kx1):
                    pixel = (line + kx * d_w) * in_c
                    if multiplier:  # depthwise: W[ky, kx, o] times input channel o // multiplier
                        t = (ky * k_w + kx) * out_c + o
                        pixel += o // multiplier
                        count = 1
                    else:  # W[o, ky, kx, i] for every input channel i, o counted from first
                        t = j * row + (ky * k_w + kx) * in_c
                        count = in_c
                    for _ in range(count):
                        if bits == 8:
                            weight = (w[t] ^ 0x80) - 0x80
                        elif bits == 4:
                            weight = (((w[t >> 1] >> ((t & 1) << 2)) & 0xF) ^ 8) - 8
                        else:
                            weight = (((w[t >> 2] >> ((t & 3) << 1)) & 3) ^ 2) - 2
                        s += weight * ((x[pixel] ^ 0x80) - offset)
                        t += 1
                        pixel += 1
            acc[k] = s
            k += 1


@micropython.viper
def _depthwise(
    wp: ptr8,
    xp: ptr8,
    s: int,
    x: ptr8,
    w: ptr8,
    bias: ptr32,
    acc: ptr32,
    geometry: ptr32,
    taps: ptr32,
    oy: int,
    ox0: int,
    pixels: int,
):
    """acc[p * out_c + o] as _accumulate's, for int8 DEPTHWISE_CONV_2D (every channel): each
    output's in-image taps, strided in x and in w. wp, xp and s are the cursors and the sum,
    passed in (any buffer, 0) only so that they are the first locals (registers)."""
    in_w = geometry[_IN_W]
    in_c = geometry[_IN_C]
    out_c = geometry[_OUT_C]
    k_w = geometry[_K_W]
    d_h = geometry[_D_H]
    multiplier = geometry[_MULTIPLIER]
    kx_at = geometry[_KX_AT]
    off = geometry[_OFFSET]
    step = geometry[_D_W] * in_c
    y0 = oy * geometry[_S_H] - geometry[_PAD_T]
    ky0 = taps[2 * oy]
    ky1 = taps[2 * oy + 1]
    k = 0
    for pixel in range(pixels):
        ox = ox0 + pixel
        x0 = ox * geometry[_S_W] - geometry[_PAD_L]
        kx0 = taps[kx_at + 2 * ox]
        run = taps[kx_at + 2 * ox + 1] - kx0
        c = 0  # the input channel of output channel o
        m = 0
        for o in range(out_c):
            s = bias[o]
            s = (s & 0xFFFF) | ((((s >> 16) & 0xFFFF) ^ 0x8000) - 0x8000) << 16
            for ky in range(ky0, ky1):
                xp = ptr8(uint(x) + ((y0 + ky * d_h) * in_w + x0) * in_c + kx0 * step + c)
                wp = ptr8(uint(w) + (ky * k_w + kx0) * out_c + o)
                for _ in range(run):
                    s = ((wp[0] ^ 0x80) - 0x80) * ((xp[0] ^ 0x80) - off) + s
                    wp = ptr8(uint(wp) + out_c)
                    xp = ptr8(uint(xp) + step)
            acc[k] = s
            k += 1
            m += 1
            if m == multiplier:
                m = 0
                c += 1


def _gathers(geometry, count, words):
    """True when _gathered runs this layer: int8 CONV_2D whose window and one pixel's
    accumulators and weight sums fit the scratch."""
    n = geometry[_TAPS]
    if geometry[_BITS] != 8 or geometry[_MULTIPLIER] or n > GATHER_TAPS:
        return False
    return 2 * count + (n + 3) // 4 <= words


@micropython.viper
def _weight_sums(w: ptr8, acc: ptr32, geometry: ptr32, at: int, width: int):
    """acc[at + j] = sum of (w + 128) over channel j's weights, for j < width."""
    n = geometry[_TAPS]
    for j in range(width):
        t = j * n
        s = 0
        for i in range(n):
            s += w[t + i] ^ 0x80
        acc[at + j] = s


@micropython.viper
def _gathered(
    q: ptr8,
    p: ptr8,
    s: int,
    x: ptr8,
    w: ptr8,
    bias: ptr32,
    acc: ptr32,
    geometry: ptr32,
    taps: ptr32,
    oy: int,
    ox0: int,
    pixels: int,
    first: int,
    width: int,
    at: int,
):
    """acc[p * width + j] as _accumulate's, for int8 CONV_2D: the window of each pixel gathered
    into the scratch from word `at` on, the weight sums (_weight_sums) after it (see the
    module's docstring). q, p and s are the dot product's cursors and sum, passed in (any
    buffer, 0) only so that they are the first locals: the native emitter keeps those in
    registers."""
    in_w = geometry[_IN_W]
    in_c = geometry[_IN_C]
    k_w = geometry[_K_W]
    k_h = geometry[_K_H]
    d_h = geometry[_D_H]
    d_w = geometry[_D_W]
    n = geometry[_TAPS]
    kx_at = geometry[_KX_AT]
    off = geometry[_OFFSET]
    window = ptr8(uint(acc) + 4 * at)
    sixteens = uint(window) + (n & 0x3FFFFFF0)  # where the runs of 16 taps end
    eights = uint(window) + (n & 0x3FFFFFF8)  # then one run of 8
    stop = uint(window) + n
    sums = at + (n + 3) // 4  # word index of the weight sums
    y0 = oy * geometry[_S_H] - geometry[_PAD_T]
    ky0 = taps[2 * oy]
    ky1 = taps[2 * oy + 1]
    k = 0
    for pixel in range(pixels):
        ox = ox0 + pixel
        x0 = ox * geometry[_S_W] - geometry[_PAD_L]
        kx0 = taps[kx_at + 2 * ox]
        kx1 = taps[kx_at + 2 * ox + 1]
        t = 0
        xsum = 0
        for ky in range(k_h):
            line = (y0 + ky * d_h) * in_w + x0
            for kx in range(k_w):
                if ky0 <= ky and ky < ky1 and kx0 <= kx and kx < kx1:
                    src = (line + kx * d_w) * in_c
                    for i in range(in_c):
                        v = x[src + i] ^ 0x80
                        window[t] = v
                        xsum += v
                        t += 1
                else:
                    for _ in range(in_c):
                        window[t] = off
                        t += 1
                    xsum += off * in_c
        centre = 128 * off * n - 128 * xsum  # |.| <= 128 x 255 x n
        q = w
        for j in range(width):  # row j of the weights, then row j + 1: q runs on
            s = 0
            p = window
            while uint(p) < sixteens:
                s = (q[0] ^ 0x80) * p[0] + s
                s = (q[1] ^ 0x80) * p[1] + s
                s = (q[2] ^ 0x80) * p[2] + s
                s = (q[3] ^ 0x80) * p[3] + s
                s = (q[4] ^ 0x80) * p[4] + s
                s = (q[5] ^ 0x80) * p[5] + s
                s = (q[6] ^ 0x80) * p[6] + s
                s = (q[7] ^ 0x80) * p[7] + s
                s = (q[8] ^ 0x80) * p[8] + s
                s = (q[9] ^ 0x80) * p[9] + s
                s = (q[10] ^ 0x80) * p[10] + s
                s = (q[11] ^ 0x80) * p[11] + s
                s = (q[12] ^ 0x80) * p[12] + s
                s = (q[13] ^ 0x80) * p[13] + s
                s = (q[14] ^ 0x80) * p[14] + s
                s = (q[15] ^ 0x80) * p[15] + s
                q = ptr8(uint(q) + 16)
                p = ptr8(uint(p) + 16)
            if uint(p) < eights:
                s = (q[0] ^ 0x80) * p[0] + s
                s = (q[1] ^ 0x80) * p[1] + s
                s = (q[2] ^ 0x80) * p[2] + s
                s = (q[3] ^ 0x80) * p[3] + s
                s = (q[4] ^ 0x80) * p[4] + s
                s = (q[5] ^ 0x80) * p[5] + s
                s = (q[6] ^ 0x80) * p[6] + s
                s = (q[7] ^ 0x80) * p[7] + s
                q = ptr8(uint(q) + 8)
                p = ptr8(uint(p) + 8)
            while uint(p) < stop:
                s = (q[0] ^ 0x80) * p[0] + s
                q = ptr8(uint(q) + 1)
                p = ptr8(uint(p) + 1)
            b = bias[first + j]
            b = (b & 0xFFFF) | ((((b >> 16) & 0xFFFF) ^ 0x8000) - 0x8000) << 16
            s = s - off * acc[sums + j]  # |.| <= 255 x 255 x n
            acc[k] = b + (s + centre)  # the exact dot product, then the bias
            k += 1
