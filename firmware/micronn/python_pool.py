"""MAX_POOL_2D, AVERAGE_POOL_2D and MEAN in plain MicroPython integers (TFLM int8 reference).

The pools work on raw codes over the in-image taps of each window; the average rounds half
away from zero, (sum +- count // 2) / count truncated. MEAN sums each channel over H x W,
subtracts input_zero_point x count and requantizes with the multiplier that already holds
1 / count. Sums stay below 255 x count < 2**30, so all values are small ints.
"""

from .fixedpoint import Requant, requantize
from .window import shared_tap_ranges

MAX_POOL = 0
AVERAGE_POOL = 1
MEAN = 2


def prepare(op, params, tensors):
    """Load time: the window tables of a pool, or the multiplier limbs of a MEAN."""
    if op.name == "MEAN":
        in_h, in_w, channels, input_zp, output_zp, multiplier, shift = params
        count = in_h * in_w
        # TFLM's QuantizedMeanOrSum clamps to the int8 range only (MEAN has no activation)
        rq = Requant([multiplier], [shift])
        return (MEAN, count, channels, input_zp * count, output_zp, rq)
    in_h, in_w, channels, out_h, out_w, f_h, f_w, s_h, s_w, pad_t, pad_l, act_min, act_max = params
    ky_first, ky_end = shared_tap_ranges(out_h, s_h, pad_t, f_h, 1, in_h)
    kx_first, kx_end = shared_tap_ranges(out_w, s_w, pad_l, f_w, 1, in_w)
    kind = MAX_POOL if op.name == "MAX_POOL_2D" else AVERAGE_POOL
    shape = (in_w, channels, out_h, out_w, s_h, s_w, pad_t, pad_l)
    return (kind, shape, (ky_first, ky_end, kx_first, kx_end), act_min, act_max)


def run(plan, a, b, out):
    kind = plan[0]
    if kind == MEAN:
        _mean(plan, a, out)
        return
    _, shape, tables, act_min, act_max = plan
    in_w, channels, out_h, out_w, s_h, s_w, pad_t, pad_l = shape
    ky_first, ky_end, kx_first, kx_end = tables
    at = 0
    for oy in range(out_h):
        y0 = oy * s_h - pad_t
        y1 = y0 + ky_end[oy]
        y0 += ky_first[oy]
        for ox in range(out_w):
            x0 = ox * s_w - pad_l
            x1 = x0 + kx_end[ox]
            x0 += kx_first[ox]
            for c in range(channels):
                if kind == MAX_POOL:
                    v = _window_max(a, y0, y1, x0, x1, in_w, channels, c)
                else:
                    v = _window_average(a, y0, y1, x0, x1, in_w, channels, c)
                if v < act_min:
                    v = act_min
                elif v > act_max:
                    v = act_max
                out[at] = v
                at += 1


def _window_max(a, y0, y1, x0, x1, in_w, channels, c):
    """max(-128, codes of channel c in rows y0..y1-1, columns x0..x1-1)."""
    best = -128
    for y in range(y0, y1):
        pixel = (y * in_w + x0) * channels + c
        for _ in range(x0, x1):
            if a[pixel] > best:
                best = a[pixel]
            pixel += channels
    return best


def _window_average(a, y0, y1, x0, x1, in_w, channels, c):
    """The window's mean, (sum +- count // 2) / count truncated: ties away from zero."""
    total = 0
    for y in range(y0, y1):
        pixel = (y * in_w + x0) * channels + c
        for _ in range(x0, x1):
            total += a[pixel]
            pixel += channels
    count = (y1 - y0) * (x1 - x0)
    if total > 0:
        return (total + (count >> 1)) // count
    return -((-total + (count >> 1)) // count)


def _mean(plan, a, out):
    _, count, channels, offset, output_zp, rq = plan
    for c in range(channels):
        total = -offset
        pixel = c
        for _ in range(count):
            total += a[pixel]
            pixel += channels
        v = requantize(total, rq, 0)
        # compared before adding the zero point, so a large v never leaves the small ints
        if v < -128 - output_zp:
            out[c] = -128
        elif v > 127 - output_zp:
            out[c] = 127
        else:
            out[c] = v + output_zp
