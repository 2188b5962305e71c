"""RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR in plain MicroPython integers (TFLM's int8
reference kernels).

Nearest neighbour copies codes: prepare finds the source row and column of every output one
once (TFLM's float32 position, done in integers: ops/resize.py), run copies item by item, which
allocates nothing anywhere. Bilinear is TFLM's integer path: prepare finds each row's and
column's two source offsets and its fraction f in 1/1024 (-512 < f < 1024); run sums four
codes x weights. |weight| <= 1535 x 1535 and the four weights' magnitudes sum to at most
2047^2, so |sum| <= 128 x 2047^2 + 2^19 < 2^30.
"""

from array import array


def nearest_index(y, size, mantissa, exponent, align_corners, half_pixel_centers):
    """(2y + h) * mantissa * 2^(exponent - 1) rounded to float32's 24 bits (half to even),
    then floored (rounded half away with align_corners) and clamped: load time, may be long."""
    value = (2 * y + half_pixel_centers) * mantissa
    shift = exponent - 1
    drop = 0
    while value >> (24 + drop):
        drop += 1
    if drop:
        kept = value >> drop
        rest = value - (kept << drop)
        half = 1 << (drop - 1)
        if rest > half or (rest == half and kept & 1):
            kept += 1
        value = kept
        shift += drop
    if shift >= 0:
        pick = value << shift
    elif align_corners:
        pick = (value + (1 << (-shift - 1))) >> -shift
    else:
        pick = value >> -shift
    return pick if pick < size else size - 1


def _offsets(count, size, mantissa, exponent, align, half, step):
    table = array("i", bytes(4 * count))
    for y in range(count):
        table[y] = nearest_index(y, size, mantissa, exponent, align, half) * step
    return table


NEAREST = 0
BILINEAR = 1
_ONE = 1024
_HALF = 1 << 19


def _bilinear_axis(count, size, scale, half_pixel_centers, step):
    """Per output row (or column): offsets of y0 and y1 times step, and the fraction."""
    low = array("i", bytes(4 * count))
    high = array("i", bytes(4 * count))
    fraction = array("i", bytes(4 * count))
    for y in range(count):
        scaled = y * scale + ((scale >> 1) - 512 if half_pixel_centers else 0)
        y0 = scaled >> 10 if scaled > 0 else 0  # C truncates toward zero; below 0 it is 0
        y1 = (scaled + _ONE - 1) >> 10 if scaled > 1 - _ONE else 0
        low[y] = y0 * step
        high[y] = (y1 if y1 < size else size - 1) * step
        fraction[y] = scaled - _ONE * y0
    return low, high, fraction


def prepare(op, params, tensors):
    if op.name == "RESIZE_BILINEAR":
        in_h, in_w, channels, out_h, out_w, h_scale, w_scale, half = params
        rows = _bilinear_axis(out_h, in_h, h_scale, half, in_w * channels)
        columns = _bilinear_axis(out_w, in_w, w_scale, half, channels)
        return (BILINEAR, channels, rows, columns)
    if op.name != "RESIZE_NEAREST_NEIGHBOR":
        raise ValueError(f"python_resize does not run {op.name}; update micronn")
    in_h, in_w, channels, out_h, out_w, h_m, h_e, w_m, w_e, align, half = params
    rows = _offsets(out_h, in_h, h_m, h_e, align, half, in_w * channels)
    columns = _offsets(out_w, in_w, w_m, w_e, align, half, channels)
    return (NEAREST, channels, rows, columns)


def run(plan, a, b, out):
    kind, channels, rows, columns = plan
    if kind == BILINEAR:
        _bilinear(channels, rows, columns, a, out)
        return
    at = 0
    for y in range(len(rows)):
        row = rows[y]
        for x in range(len(columns)):
            source = row + columns[x]
            for c in range(channels):
                out[at + c] = a[source + c]
            at += channels


def _bilinear(channels, rows, columns, a, out):
    low_y, high_y, fraction_y = rows
    low_x, high_x, fraction_x = columns
    at = 0
    for y in range(len(low_y)):
        fy = fraction_y[y]
        gy = _ONE - fy
        y0 = low_y[y]
        y1 = high_y[y]
        for x in range(len(low_x)):
            fx = fraction_x[x]
            gx = _ONE - fx
            w00 = gy * gx
            w10 = fy * gx
            w01 = gy * fx
            w11 = fy * fx
            p00 = y0 + low_x[x]
            p10 = y1 + low_x[x]
            p01 = y0 + high_x[x]
            p11 = y1 + high_x[x]
            for c in range(channels):
                total = a[p00 + c] * w00 + a[p10 + c] * w10 + a[p01 + c] * w01 + a[p11 + c] * w11
                if total > 0:
                    out[at] = (total + _HALF) >> 20
                else:
                    out[at] = -((_HALF - total) >> 20)
                at += 1
