"""RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR with the viper backend: the integers of
python_resize, whose prepare makes the same row and column tables (array('i')). Nearest copies
bytes; bilinear sums four signed codes x weights, |sum| <= 128 x 2047^2 + 2^19 < 2^30, so
every value fits a 32-bit machine word as it fits a small int in python_resize.
"""

# ruff: noqa: F821 - ptr8, ptr32 are the viper emitter's own types

import micropython

from . import python_resize


def prepare(op, params, tensors):
    return python_resize.prepare(op, params, tensors)


def run(plan, a, b, out):
    kind, channels, rows, columns = plan
    if kind == python_resize.BILINEAR:
        low_y, high_y, fraction_y = rows
        low_x, high_x, fraction_x = columns
        _bilinear(a, out, low_y, high_y, fraction_y, low_x, high_x, fraction_x, len(low_y),
                  len(low_x), channels)  # fmt: skip
    else:
        _nearest(a, out, rows, columns, len(rows), len(columns), channels)


@micropython.viper
def _nearest(a: ptr8, out: ptr8, rows: ptr32, columns: ptr32, n_rows: int, n_columns: int,
             channels: int):  # fmt: skip
    at = 0
    for y in range(n_rows):
        row = rows[y]
        for x in range(n_columns):
            source = row + columns[x]
            for c in range(channels):
                out[at] = a[source + c]
                at += 1


@micropython.viper
def _bilinear(a: ptr8, out: ptr8, low_y: ptr32, high_y: ptr32, fraction_y: ptr32, low_x: ptr32,
              high_x: ptr32, fraction_x: ptr32, n_rows: int, n_columns: int,
              channels: int):  # fmt: skip
    at = 0
    for y in range(n_rows):
        fy = fraction_y[y]
        gy = 1024 - fy
        y0 = low_y[y]
        y1 = high_y[y]
        for x in range(n_columns):
            fx = fraction_x[x]
            gx = 1024 - fx
            w00 = gy * gx
            w10 = fy * gx
            w01 = gy * fx
            w11 = fy * fx
            p00 = y0 + low_x[x]
            p10 = y1 + low_x[x]
            p01 = y0 + high_x[x]
            p11 = y1 + high_x[x]
            for c in range(channels):
                total = (((a[p00 + c] ^ 0x80) - 0x80) * w00 + ((a[p10 + c] ^ 0x80) - 0x80) * w10
                         + ((a[p01 + c] ^ 0x80) - 0x80) * w01
                         + ((a[p11 + c] ^ 0x80) - 0x80) * w11)  # fmt: skip
                if total > 0:
                    out[at] = (total + 0x80000) >> 20
                else:
                    out[at] = 0 - ((0x80000 - total) >> 20)
                at += 1
