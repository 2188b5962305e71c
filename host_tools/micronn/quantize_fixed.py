"""dequantize_fixed: TensorFlow's Dequantize as Q-format int32, the definition the board's
micronn.dequantize_fixed is checked against.

Dequantize is affine in the code c within a slice: TF computes y = offset + (c + half) * scale in
float32 steps, with constants (offset, scale, half) made once from the range (the code of
quantize.dequantize). The fixed-point result with F fraction bits is the exact value of that
affine map, without the rounding of each float32 step, rounded half up and saturated:

    Y = floor(2**F * (offset + (c + half) * scale) + 1/2)  clipped to [-2**31, 2**31 - 1]

so that Y / 2**F is within 2**-(F+1) of the exact affine value. TF's float32 result differs
from that value by its own rounding (a few float32 ulps). The qint32 per-tensor SCALED quirk
of dequantize (codes >= 2**31 - 64 wrap through float) is not reproduced: each code is exact.
A range whose constants are not finite (an infinite or NaN range) is refused.
"""

from fractions import Fraction

import numpy as np

from micronn import tf_float32 as f32
from micronn.quantize import _as_slices
from micronn.quantize_args import (
    check_dequantize_modes,
    check_per_axis_mode,
    dequantize_ranges,
    normalized_axis,
    quantized_array,
)

F32 = np.float32
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def dequantize_fixed(
    q, min_range, max_range, frac_bits, mode="MIN_COMBINED", narrow_range=False, axis=None, T=None
):
    """Codes q to int32 values with frac_bits (0..31) fraction bits; arguments as dequantize."""
    q, T = quantized_array(q, T)
    check_dequantize_modes(mode, "float32")
    axis = normalized_axis(axis, q.ndim, "dequantize")
    num_slices = 1 if axis == -1 else q.shape[axis]
    min_r, max_r = dequantize_ranges(min_range, max_range, axis, num_slices)
    if num_slices != 1:
        check_per_axis_mode(mode, "Dequantize")
    if not (isinstance(frac_bits, int) and 0 <= frac_bits <= 31):
        raise ValueError(f"frac_bits must be an int from 0 to 31, got {frac_bits!r}")
    min_r, max_r = f32.flush(min_r), f32.flush(max_r)
    codes = _as_slices(q, -1 if num_slices == 1 else axis)
    output = np.empty(codes.shape, np.int32)
    for s in range(codes.shape[1]):
        offset, scale, half = affine_constants(min_r[s], max_r[s], q.dtype, mode, narrow_range)
        if not (np.isfinite(offset) and np.isfinite(scale)):
            raise ValueError(
                f"slice {s} dequantizes with scale {float(scale)} and offset {float(offset)}: a "
                "fixed-point result needs a finite, non-empty range; pass another min_range / "
                "max_range"
            )
        exact_offset = Fraction(float(offset)) * 2**frac_bits
        exact_scale = Fraction(float(scale)) * 2**frac_bits
        values = {}
        for c in np.unique(codes[:, s, :]).tolist():
            y = exact_offset + (c + half) * exact_scale + Fraction(1, 2)
            values[c] = min(max(y.__floor__(), INT32_MIN), INT32_MAX)
        output[:, s, :] = np.vectorize(values.__getitem__, otypes=[np.int64])(codes[:, s, :])
    return output.reshape(q.shape)


def affine_constants(min_r, max_r, dtype, mode, narrow_range):
    """(offset, scale, half) of one slice: TF's float32 constants (quantize._dequantize_*), half
    an int, so that dequantize gives float32(float32(float32(c + half) * scale) + offset) for
    MIN_COMBINED, float32(offset + float32(c * scale)) otherwise (SCALED: offset 0)."""
    info = np.iinfo(dtype)
    low, high = F32(info.min), F32(info.max)
    min_r, max_r = F32(min_r), F32(max_r)
    with np.errstate(all="ignore"):
        if mode == "MIN_COMBINED":
            half = (int(info.max) - int(info.min) + 1) // 2 if info.min < 0 else 0
            return min_r, f32.div(f32.sub(max_r, min_r), f32.sub(high, low)), half
        if mode == "MIN_FIRST":
            steps = 2.0 ** (8 * dtype.itemsize) - 1.0
            width = np.float64(f32.sub(max_r, min_r))
            scale = f32.double_to_float(width / steps)
            snapped = f32.mul(f32.round_half_away(f32.div(min_r, scale)), scale)
            rounded_min = min_r if max_r == min_r else snapped
            return f32.sub(rounded_min, f32.mul(low, scale)), scale, 0
        if info.min == 0:
            return F32(0), f32.div(max_r, high), 0
        min_out = F32(info.min + (1 if narrow_range else 0))
        return F32(0), f32.std_max(f32.div(min_r, min_out), f32.div(max_r, high)), 0
