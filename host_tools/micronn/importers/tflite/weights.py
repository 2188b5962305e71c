"""A TFLite filter and bias, and their re-quantization to int4 or int2 on request.

A .tflite model fixes int8 weights. `micronn convert model.tflite --weights int4|int2`
re-quantizes each channel from its int8 values: the new scale is the channel's largest
|real weight| / L (L = 7 or 1), codes are round(real / new scale) clamped to [-L, L], and the
int32 bias is re-expressed in the new scale (input_scale x new weight scale). The results are
then no longer bit-exact with TFLM, which runs the int8 weights: expect some accuracy loss.
Quantizing the float model with --calibration keeps more accuracy.
"""

from dataclasses import dataclass

import numpy as np

from micronn.tflite_int8 import WEIGHT_LIMIT, round_half_away

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


@dataclass(frozen=True)
class QuantizedWeights:
    """codes: int8 in the filter's TFLite layout; scales: float32, 1 or one per channel along
    `axis`; bias: int32 per output channel (scale input_scale x weight scale, zero point 0)."""

    codes: np.ndarray
    scales: np.ndarray
    axis: int
    bias: np.ndarray
    bits: int

    @property
    def channels(self) -> int:
        return int(self.codes.shape[self.axis])

    @property
    def per_channel(self) -> bool:
        return self.scales.size > 1


def _channel_peaks(codes: np.ndarray, axis: int, per_channel: bool) -> np.ndarray:
    magnitude = np.abs(codes.astype(np.int64))
    if not per_channel:
        return magnitude.max(keepdims=True).reshape(1)
    return np.moveaxis(magnitude, axis, 0).reshape(codes.shape[axis], -1).max(axis=1)


def requantize_weights(weights: QuantizedWeights, bits: int) -> QuantizedWeights:
    """The same weights with `bits`-bit codes (8: unchanged)."""
    if bits == weights.bits:
        return weights
    if bits not in WEIGHT_LIMIT:
        raise ValueError(f"weight bits must be 8, 4 or 2, got {bits!r}")
    limit = WEIGHT_LIMIT[bits]
    peaks = _channel_peaks(weights.codes, weights.axis, weights.per_channel)
    # new scale = old scale x peak / L, so codes and bias scale by ratio = L / peak
    ratio = np.where(peaks > 0, limit / np.maximum(peaks, 1), 1.0)
    new_scales = (weights.scales.astype(np.float64) / ratio).astype(np.float32)
    shape = [1] * weights.codes.ndim
    if weights.per_channel:
        shape[weights.axis] = -1
    codes = round_half_away(weights.codes * ratio.reshape(shape))
    codes = np.clip(codes, -limit, limit).astype(np.int8)
    # the bias must use exactly the scale the kernel will multiply by: input x new_scale
    bias_ratio = weights.scales.astype(np.float64) / new_scales.astype(np.float64)
    bias = round_half_away(weights.bias * np.broadcast_to(bias_ratio, weights.bias.shape))
    if np.any((bias < INT32_MIN) | (bias > INT32_MAX)):
        raise ValueError(f"a bias does not fit int32 after re-quantizing weights to int{bits}")
    return QuantizedWeights(codes, new_scales, weights.axis, bias.astype(np.int32), bits)
