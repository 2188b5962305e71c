"""TensorFlow-exact QuantizeV2 and Dequantize (tf.quantization.quantize / dequantize).

Bit-identical to tensorflow-cpu 2.21 on x86-64 (eager, TF_ENABLE_ONEDNN_OPTS=0): each step of
TF's kernels (core/kernels/quantize_op.cc, dequantize_op.cc, quantization_utils.h) is one
float32 operation, in TF's order, with denormals flushed to zero. Arguments, defaults, the range
adjustment, the qint32 quirks and the refusals (ValueError with TF's message) are TF's. Inputs
and ranges are converted to float32 first.

NaN is implementation-defined in TF (its result depends on the SIMD block an element lands
in). Here it is fixed to TF's scalar result: a NaN input, or a NaN made inside the kernel
(inf * 0 when a range is infinite or empty), quantizes to code 0, except in qint32 MIN_FIRST,
where it gives -2147483648. An infinity gives the code of its end of the range (in qint32
MIN_COMBINED and SCALED the top end wraps to -2147483648, as in TF). Dequantize has no casts:
NaN arithmetic simply returns NaN.
"""

import math

import numpy as np

from micronn import tf_float32 as f32
from micronn.quantize_args import (
    check_dequantize_modes,
    check_per_axis_mode,
    check_quantize_modes,
    dequantize_ranges,
    float32_array,
    normalized_axis,
    quantize_ranges,
    quantized_array,
    quantized_dtype,
)

F32 = np.float32


def quantize(
    x,
    min_range,
    max_range,
    T,
    mode="MIN_COMBINED",
    round_mode="HALF_AWAY_FROM_ZERO",
    narrow_range=False,
    axis=None,
    ensure_minimum_range=0.01,
):
    """Quantize float x to codes of type T; returns (output, output_min, output_max).

    axis=None (or an axis of size 1) quantizes the whole tensor and returns output_min and
    output_max as np.float32 scalars; otherwise each slice along axis has its own range and
    they are float32 arrays. They hold the range actually used (widened to include 0, etc.).
    """
    dtype = quantized_dtype(T)
    check_quantize_modes(mode, round_mode)
    x = f32.flush(float32_array(x, "x"))
    axis = normalized_axis(axis, x.ndim, "quantize")
    num_slices = 1 if axis == -1 else x.shape[axis]
    in_min, in_max = quantize_ranges(min_range, max_range, axis, num_slices)
    per_tensor = num_slices == 1
    if not per_tensor:
        check_per_axis_mode(mode, "Quantize")
    in_min, in_max = (f32.flush(r).reshape(1, -1, 1) for r in (in_min, in_max))
    if np.any(in_max < in_min):
        raise ValueError("input_max_range must be larger than input_min_range.")
    slices = _as_slices(x, -1 if per_tensor else axis)
    with np.errstate(all="ignore"):
        min_r, max_r = _adjusted_range(in_min, in_max, F32(ensure_minimum_range))
        if mode == "MIN_COMBINED":
            output = _quantize_min_combined(slices, min_r, max_r, dtype)
        elif mode == "MIN_FIRST":
            output = _quantize_min_first(slices, min_r, max_r, dtype)
        else:
            output, min_r, max_r = _quantize_scaled(
                slices, min_r, max_r, dtype, narrow_range, round_mode
            )
    output = output.reshape(x.shape)
    if per_tensor:
        return output, F32(min_r.flat[0]), F32(max_r.flat[0])
    return output, min_r.reshape(-1), max_r.reshape(-1)


def dequantize(
    q,
    min_range,
    max_range,
    mode="MIN_COMBINED",
    narrow_range=False,
    axis=None,
    T=None,
    dtype="float32",
):
    """Map codes q back to float32 (values rounded to bfloat16 if dtype="bfloat16").

    T defaults to the type q's numpy dtype stands for (int8 -> qint8, uint8 -> quint8, ...).
    Like TF, the ranges are used as given: no widening and no min <= max check.
    """
    q, T = quantized_array(q, T)
    output_type = check_dequantize_modes(mode, dtype)
    axis = normalized_axis(axis, q.ndim, "dequantize")
    num_slices = 1 if axis == -1 else q.shape[axis]
    min_r, max_r = dequantize_ranges(min_range, max_range, axis, num_slices)
    per_tensor = num_slices == 1
    if not per_tensor:
        check_per_axis_mode(mode, "Dequantize")
    min_r, max_r = (f32.flush(r).reshape(1, -1, 1) for r in (min_r, max_r))
    codes = _as_slices(q, -1 if per_tensor else axis)
    with np.errstate(all="ignore"):
        if mode == "MIN_COMBINED":
            output = _dequantize_min_combined(codes, min_r, max_r)
        elif mode == "MIN_FIRST":
            output = _dequantize_min_first(codes, min_r, max_r)
        else:
            output = _dequantize_scaled(codes, min_r, max_r, narrow_range, per_tensor)
    output = output.reshape(q.shape)
    return f32.to_bfloat16(output) if output_type == "bfloat16" else output


def _as_slices(array, axis):
    """View as [pre, num_slices, post]: the layout TF's kernels iterate over."""
    if axis == -1:
        return array.reshape(1, 1, array.size)
    shape = array.shape
    return array.reshape(math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1 :]))


def _adjusted_range(in_min, in_max, ensure_minimum_range):
    """Widen each range to include 0 and to be at least epsilon wide (QuantizeSlice)."""
    zero = F32(0)
    min_r = f32.std_min(zero, in_min)
    largest = f32.std_max(F32(1), f32.std_max(np.abs(in_min), np.abs(in_max)))
    epsilon = f32.mul(largest, ensure_minimum_range)
    max_r = f32.std_max(zero, f32.std_max(in_max, f32.add(min_r, epsilon)))
    return min_r, max_r


def _cast_rounded(values, dtype):
    """Eigen's .cast<T>() of an already rounded float."""
    if dtype == np.int32:
        return f32.lrint_to_int32(values)
    return f32.truncate_to_int32(values).astype(dtype)


def _clamp(values, low, high):
    """values.cwiseMin(high).cwiseMax(low): a NaN element stays NaN."""
    return f32.std_max(f32.std_min(values, high), low)


def _quantize_min_combined(x, min_r, max_r, dtype):
    info = np.iinfo(dtype)
    width = f32.sub(max_r, min_r).astype(np.float64)
    scale = f32.double_to_float((float(info.max) - float(info.min)) / width)
    scaled = f32.mul(f32.sub(_clamp(x, min_r, max_r), min_r), scale)
    if info.min < 0:
        half_range = F32((float(info.max) - float(info.min) + 1) / 2)
        return _cast_rounded(f32.round_half_away(f32.sub(scaled, half_range)), dtype)
    return f32.truncate_to_int32(f32.add(scaled, F32(0.5))).astype(dtype)


def _quantize_min_first(x, min_r, max_r, dtype):
    info = np.iinfo(dtype)
    steps = 2.0 ** (8 * dtype.itemsize) - 1.0
    width = f32.sub(max_r, min_r).astype(np.float64)
    range_scale = f32.double_to_float(np.where(max_r == min_r, 0.0, steps / width))
    min_scaled = f32.round_half_away(f32.mul(min_r, range_scale))
    offset = f32.sub(min_scaled, F32(info.min))
    values = f32.sub(f32.round_half_away(f32.mul(x, range_scale)), offset)
    lower = max(F32(info.min), F32(-2.147483648e9))
    upper = min(F32(info.max), F32(2.147483520e9))
    return f32.truncate_to_int32(_clamp(values, lower, upper)).astype(dtype)


def _quantize_scaled(x, min_r, max_r, dtype, narrow_range, round_mode):
    info = np.iinfo(dtype)
    min_out = F32(info.min + (1 if narrow_range else 0))
    max_out = F32(info.max)
    from_min = np.where(f32.mul(min_out, min_r) > 0, f32.div(min_out, min_r), f32.FLT_MAX)
    from_max = np.where(f32.mul(max_out, max_r) > 0, f32.div(max_out, max_r), f32.FLT_MAX)
    scale = f32.std_min(from_min, from_max)
    out_min, out_max = f32.div(min_out, scale), f32.div(max_out, scale)
    scaled = f32.mul(_clamp(x, out_min, out_max), scale)
    if round_mode == "HALF_TO_EVEN":
        rounded = f32.round_half_even(scaled)
    else:
        rounded = f32.round_half_away(scaled)
    return _cast_rounded(rounded, dtype), out_min, out_max


def _dequantize_min_combined(codes, min_r, max_r):
    info = np.iinfo(codes.dtype)
    low, high = F32(info.min), F32(info.max)
    half_range = F32(0)
    if info.min < 0:
        half_range = f32.div(f32.add(f32.sub(high, low), F32(1)), F32(2))
    scale = f32.div(f32.sub(max_r, min_r), f32.sub(high, low))
    return f32.add(f32.mul(f32.add(codes.astype(F32), half_range), scale), min_r)


def _dequantize_min_first(codes, min_r, max_r):
    info = np.iinfo(codes.dtype)
    steps = 2.0 ** (8 * codes.dtype.itemsize) - 1.0
    range_scale = f32.double_to_float(f32.sub(max_r, min_r).astype(np.float64) / steps)
    snapped_min = f32.mul(f32.round_half_away(f32.div(min_r, range_scale)), range_scale)
    range_min_rounded = np.where(max_r == min_r, min_r, snapped_min)
    offset = f32.sub(range_min_rounded, f32.mul(F32(info.min), range_scale))
    return f32.add(offset, f32.mul(codes.astype(F32), range_scale))


def _dequantize_scaled(codes, min_r, max_r, narrow_range, per_tensor):
    info = np.iinfo(codes.dtype)
    if info.min == 0:
        scale = f32.div(max_r, F32(info.max))
    else:
        min_out = F32(info.min + (1 if narrow_range else 0))
        scale = f32.std_max(f32.div(min_r, min_out), f32.div(max_r, F32(info.max)))
    values = codes.astype(F32)
    if per_tensor and codes.dtype == np.int32:
        # The per-tensor kernel casts QInt32 -> int through float: codes >= 2**31 - 64 wrap.
        values = f32.truncate_to_int32(values).astype(F32)
    return f32.mul(values, scale)
