"""int8 MEAN over the spatial axes (TFLM reduce.h QuantizedMeanOrSum, compute_sum = false).

TFLM takes this path for every int8 MEAN, whether or not input and output share their
quantization: sum = Σ x - input_zero_point × n over the n = H × W values of each channel, then
MultiplyByQuantizedMultiplier with the input/output scale ratio folded together with 1 / n.
"""

import numpy as np

from micronn.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier
from micronn.model import Layer
from micronn.ops.checks import SMALL_INT_LIMIT, check_spatial_io, require
from micronn.ops.operator import Operator

MAX_COUNT = 2**22 - 1


def mean_multiplier(input_scale: float, output_scale: float, count: int) -> tuple[int, int]:
    """(multiplier, shift) of in_s / out_s / count, derived exactly as TFLM does.

    QuantizeMultiplier(double(in_s) / double(out_s)) -> (m, s); then with
    k = min(floor(log2 count), 32, 31 + s): m' = (m << k) // count (int64), s' = s - k.
    """
    if not 1 <= count <= MAX_COUNT:
        raise ValueError(f"MEAN over {count} values; micronn supports 1 to {MAX_COUNT}")
    for name, value in (("input", input_scale), ("output", output_scale)):
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"MEAN {name} scale must be finite and > 0, got {value}")
    ratio = float(np.float32(input_scale)) / float(np.float32(output_scale))
    multiplier, shift = quantize_multiplier(ratio)
    k = min(count.bit_length() - 1, 32, 31 + shift)
    return (multiplier << k) // count, shift - k


def evaluate(layer, inputs, out_shape):
    p = layer.params
    count = p["in_height"] * p["in_width"]
    x = inputs[0].reshape(inputs[0].shape[0], count, p["channels"]).astype(np.int64)
    total = x.sum(axis=1) - p["input_zero_point"] * count
    scaled = multiply_by_quantized_multiplier(total, p["multiplier"], p["shift"])
    out = np.clip(scaled + p["output_zero_point"], -128, 127).astype(np.int8)
    return out.reshape(out.shape[0], *out_shape)


def prepare_mean(
    *, input_shape, input_scale, input_zero_point, output_scale, output_zero_point
) -> Layer:
    """MEAN of an (H, W, C) input over H and W, one value per channel."""
    if len(input_shape) != 3:
        raise ValueError(f"MEAN takes an (H, W, C) input, got shape {tuple(input_shape)}")
    height, width, channels = (int(d) for d in input_shape)
    multiplier, shift = mean_multiplier(input_scale, output_scale, height * width)
    params = {
        "in_height": height,
        "in_width": width,
        "channels": channels,
        "input_zero_point": int(input_zero_point),
        "output_zero_point": int(output_zero_point),
        "multiplier": int(multiplier),
        "shift": int(shift),
    }
    return Layer("MEAN", params, {})


def check(where, layer, in_shapes, out_shape):
    p = layer.params
    for key in ("in_height", "in_width", "channels"):
        require(p[key] >= 1, f"{where}: {key} must be >= 1")
    count = p["in_height"] * p["in_width"]
    check_spatial_io(where, in_shapes, out_shape, count * p["channels"], p["channels"])
    require(count < 2**22, f"{where}: too many values to average")
    # The multiplier has 1 / count folded in (TFLM's QuantizedMeanOrSum), so it may be below 2^30.
    require(0 <= p["multiplier"] < 2**31, f"{where}: multiplier must be in [0, 2^31)")
    require(-31 <= p["shift"] <= 30, f"{where}: shift must be in [-31, 30]")
    worst = count * 255 << max(p["shift"], 0)
    require(
        worst < SMALL_INT_LIMIT,
        f"{where}: the sum can reach {worst} (>= 2^30), beyond the boards' 31-bit integers; "
        "average fewer values or use a wider output range",
    )


OPERATORS = (
    Operator(
        "MEAN",
        6,
        (
            "in_height",
            "in_width",
            "channels",
            "input_zero_point",
            "output_zero_point",
            "multiplier",
            "shift",
        ),
        check,
        evaluate,
        output_shape=lambda layer: (layer.params["channels"],),
        family="pool",
    ),
)
