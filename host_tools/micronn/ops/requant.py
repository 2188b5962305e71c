"""What the convolutions share: TFLM's per-channel multipliers and the requantize-and-clamp tail."""

import numpy as np

from micronn import tflite_int8
from micronn.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier


def convolution_multipliers(input_scale, weight_scales, output_scale):
    """PopulateConvolutionQuantizationParams: real[c] = in_s * w_s[c] / out_s, all in double.

    The scales are float32 as a .tflite stores them. One weight scale gives one multiplier
    (TFLM broadcasts it, with the same value, to every channel).
    """
    scales = np.asarray(weight_scales, np.float32).reshape(-1)
    if scales.size == 0 or not np.all(np.isfinite(scales)) or np.any(scales <= 0):
        raise ValueError("weight scales must be finite and > 0")
    for name, value in (("input", input_scale), ("output", output_scale)):
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} scale must be finite and > 0, got {value}")
    in_s = float(np.float32(input_scale))
    out_s = float(np.float32(output_scale))
    pairs = [quantize_multiplier(in_s * float(s) / out_s) for s in scales]
    multiplier = np.array([m for m, _ in pairs], np.int32)
    shift = np.array([s for _, s in pairs], np.int32)
    return multiplier, shift


def clamp_range(activation, output_scale, output_zero_point):
    """CalculateActivationRangeQuantized for an int8 output."""
    return tflite_int8.activation_range(activation, output_scale, output_zero_point)


def requantize_clamp(acc, layer):
    """int64 accumulators [..., channels] -> int8: MBQM per channel, zero point, clamp."""
    scaled = multiply_by_quantized_multiplier(acc, layer.multiplier, layer.shift)
    out = np.clip(scaled + layer.output_zero_point, layer.act_min, layer.act_max)
    return out.astype(np.int8)
