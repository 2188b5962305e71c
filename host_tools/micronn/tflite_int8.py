"""TFLite's int8 quantization scheme: parameters, weights, biases and clamps.

Follows tensorflow/lite/g3doc/performance/quantization_spec.md and the kernel helpers in
tensorflow/lite/kernels/kernel_util.cc and quantization_util.h.
"""

import numpy as np

from micronn.fixedpoint import quantize_multiplier

INT8_MIN, INT8_MAX = -128, 127
WEIGHT_LIMIT = {8: 127, 4: 7, 2: 1}
ACTIVATIONS = ("none", "relu", "relu6")


def round_half_away(x):
    x = np.asarray(x, dtype=np.float64)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def choose_quantization_params(rmin: float, rmax: float, qmin=INT8_MIN, qmax=INT8_MAX):
    """ChooseQuantizationParams<int8> (quantization_util.h:30): asymmetric (scale, zero_point).

    The range is first widened to contain 0, as the kernels require.
    """
    if not (np.isfinite(rmin) and np.isfinite(rmax)) or rmin > rmax:
        raise ValueError(f"activation range must be finite with min <= max, got [{rmin}, {rmax}]")
    rmin, rmax = min(float(rmin), 0.0), max(float(rmax), 0.0)
    if rmin == rmax:
        return 0.0, 0
    scale = (rmax - rmin) / (qmax - qmin)
    zp_from_min = qmin - rmin / scale
    zp_from_max = qmax - rmax / scale
    error_min = abs(qmin) + abs(rmin / scale)
    error_max = abs(qmax) + abs(rmax / scale)
    initial = zp_from_min if error_min < error_max else zp_from_max
    if initial < qmin:
        zero_point = qmin
    elif initial > qmax:
        zero_point = qmax
    else:
        zero_point = int(round_half_away(initial))
    return float(np.float32(scale)), int(zero_point)


def affine_quantize(x, scale: float, zero_point: int) -> np.ndarray:
    """TFLite AffineQuantize to int8: float32 division, ties away from zero, clamp."""
    with np.errstate(over="ignore"):
        scaled = np.asarray(x, dtype=np.float32) / np.float32(scale)
    codes = round_half_away(scaled) + zero_point
    return np.clip(codes, INT8_MIN, INT8_MAX).astype(np.int8)


def affine_dequantize(q, scale: float, zero_point: int) -> np.ndarray:
    """TFLite Dequantize: float32(double(scale) * (q - zero_point))."""
    centred = np.asarray(q, dtype=np.int64) - zero_point
    return (np.float64(np.float32(scale)) * centred).astype(np.float32)


def quantize_weights(weights, bits: int = 8, per_channel: bool = True, min_scales=None):
    """Symmetric weights, zero point 0, in [-L, L] with L = 127, 7 or 1.

    `min_scales` widens channels whose range is too narrow for their bias (the idea of
    TFLite's AdjustWeightsForBiasScale). Returns (codes int8 [out, in], scales float32 [out]
    or [1]).
    """
    if bits not in WEIGHT_LIMIT:
        raise ValueError(f"weight bits must be 8, 4 or 2, got {bits!r}")
    w = np.asarray(weights, dtype=np.float32)
    if w.ndim != 2:
        raise ValueError(f"weights must be 2-D [out, in], got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("weights contain NaN or inf; fix the trained model first")
    limit = WEIGHT_LIMIT[bits]
    peak = np.abs(w).max(axis=1) if per_channel else np.abs(w).max().reshape(1)
    scales = np.where(peak > 0, peak / np.float32(limit), np.float32(1.0)).astype(np.float32)
    if min_scales is not None:
        floor = np.asarray(min_scales, np.float32)
        scales = np.maximum(scales, floor.max(keepdims=True) if scales.size == 1 else floor)
    per_row = scales[:, None] if per_channel else scales
    codes = np.clip(round_half_away(w / per_row), -limit, limit).astype(np.int8)
    return codes, scales


def quantize_bias(bias, input_scale: float, weight_scales) -> np.ndarray:
    """int32 bias with scale input_scale * weight_scale[c], zero point 0."""
    bias_scale = np.float64(np.float32(input_scale)) * np.asarray(weight_scales, np.float64)
    codes = round_half_away(np.asarray(bias, dtype=np.float64) / bias_scale)
    return np.clip(codes, -(2**31), 2**31 - 1).astype(np.int32)


def output_multipliers(input_scale: float, weight_scales, output_scale: float):
    """Per-channel or per-tensor (multiplier, shift): real[c] = in_s * w_s[c] / out_s, each
    float32 scale widened to double first (the per-tensor product too: the pinned tflite-micro
    wheel's FULLY_CONNECTED matches it, not a float32 product; tests/test_tflm_fc_multiplier.py)."""
    weight_scales = np.asarray(weight_scales, dtype=np.float32).reshape(-1)
    reals = (
        np.float64(np.float32(input_scale))
        * weight_scales.astype(np.float64)
        / np.float64(np.float32(output_scale))
    )
    pairs = [quantize_multiplier(float(real)) for real in reals]
    multipliers = np.array([m for m, _ in pairs], dtype=np.int64)
    shifts = np.array([s for _, s in pairs], dtype=np.int64)
    return multipliers, shifts


def activation_range(activation: str, scale: float, zero_point: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int8 outputs."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
    act_min, act_max = INT8_MIN, INT8_MAX
    if activation in ("relu", "relu6"):
        act_min = max(INT8_MIN, zero_point)
    if activation == "relu6":
        with np.errstate(over="ignore", divide="ignore"):  # inf is refused below
            six = np.float32(6.0) / np.float32(scale)
        if not six < 2.0**31:
            raise ValueError(
                f"RELU6 with output scale {scale!r}: 6 / scale does not fit int32 and TFLM "
                f"refuses the layer; the output scale must exceed {6.0 / 2**31:.3g}"
            )
        act_max = int(min(INT8_MAX, zero_point + round_half_away(six)))
    return act_min, act_max
