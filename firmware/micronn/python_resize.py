"""RESIZE_NEAREST_NEIGHBOR in plain MicroPython integers (TFLM's int8 reference kernel).

Nearest neighbour copies codes: prepare finds the source row and column of every output one
once (TFLM's float32 position, done in integers: ops/resize.py), run copies item by item, which
allocates nothing anywhere.
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


def prepare(op, params, tensors):
    if op.name != "RESIZE_NEAREST_NEIGHBOR":
        raise ValueError(f"python_resize does not run {op.name}; update micronn")
    in_h, in_w, channels, out_h, out_w, h_m, h_e, w_m, w_e, align, half = params
    rows = _offsets(out_h, in_h, h_m, h_e, align, half, in_w * channels)
    columns = _offsets(out_w, in_w, w_m, w_e, align, half, channels)
    return (channels, rows, columns)


def run(plan, a, b, out):
    channels, rows, columns = plan
    at = 0
    for y in range(len(rows)):
        row = rows[y]
        for x in range(len(columns)):
            source = row + columns[x]
            for c in range(channels):
                out[at + c] = a[source + c]
            at += channels
