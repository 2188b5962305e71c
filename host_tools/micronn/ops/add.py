"""int8 ADD of two same-shaped tensors with input rescaling, bit-exact with TFLM's reference.

TensorFlow Lite Micro (reference/integer_ops/add.h AddFunc; parameters from
micro/kernels/add_common.cc CalculateOpDataAdd): each input, offset by minus its zero point, is
shifted left by 20 bits and scaled by its own multiplier to the common scale 2 * max(input scales);
the sum is scaled to the output, offset by the output zero point and clamped by the fused
activation.
"""

import numpy as np

from micronn.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier
from micronn.model import Layer
from micronn.ops.checks import check_multiplier, require
from micronn.ops.checks import size as _size
from micronn.ops.operator import CLAMP, Operator
from micronn.tflite_int8 import activation_range

LEFT_SHIFT = 20


def _smaller_than_one(real: float, what: str) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp: TFLM checks 0 < real < 1."""
    if not 0.0 < real < 1.0:
        raise ValueError(
            f"ADD {what} multiplier {real!r} is not in (0, 1) as TFLM requires; the output scale "
            "must exceed 2 * max(input scales) / 2^20"
        )
    return quantize_multiplier(real)


def prepare_add(
    size: int,
    input1_scale: float,
    input1_zero_point: int,
    input2_scale: float,
    input2_zero_point: int,
    output_scale: float,
    output_zero_point: int,
    activation: str = "none",
    inputs=(0, 1),
    output=2,
) -> Layer:
    """An ADD layer of two tensors of `size` values each, its parameters (OPERATORS order) as
    TFLM's Prepare derives them from float32 scales."""
    for name, zero_point in (
        ("input1", input1_zero_point),
        ("input2", input2_zero_point),
        ("output", output_zero_point),
    ):
        if not -128 <= zero_point <= 127:
            raise ValueError(f"ADD {name} zero point {zero_point} is outside -128..127")
    scale1, scale2, out_scale = (
        float(np.float32(s)) for s in (input1_scale, input2_scale, output_scale)
    )
    if not all(np.isfinite(s) and s > 0 for s in (scale1, scale2, out_scale)):
        raise ValueError("ADD scales must be finite and > 0")
    twice_max_input_scale = 2 * max(scale1, scale2)
    multiplier1, shift1 = _smaller_than_one(scale1 / twice_max_input_scale, "input1")
    multiplier2, shift2 = _smaller_than_one(scale2 / twice_max_input_scale, "input2")
    out_real = twice_max_input_scale / (float(1 << LEFT_SHIFT) * out_scale)
    out_multiplier, out_shift = _smaller_than_one(out_real, "output")
    act_min, act_max = activation_range(activation, output_scale, output_zero_point)
    params = {
        "size": int(size),
        "input1_offset": -int(input1_zero_point),
        "input2_offset": -int(input2_zero_point),
        "output_offset": int(output_zero_point),
        "left_shift": LEFT_SHIFT,
        "input1_multiplier": multiplier1,
        "input1_shift": shift1,
        "input2_multiplier": multiplier2,
        "input2_shift": shift2,
        "output_multiplier": out_multiplier,
        "output_shift": out_shift,
        "act_min": act_min,
        "act_max": act_max,
    }
    return Layer("ADD", params, {}, tuple(inputs), output, activation)


def evaluate(layer, inputs, out_shape):
    p = layer.params
    scaled = []
    for index, x in enumerate(inputs, start=1):
        flat = np.asarray(x, np.int64).reshape(x.shape[0], -1)
        shifted = (flat + p[f"input{index}_offset"]) << p["left_shift"]
        scaled.append(
            multiply_by_quantized_multiplier(
                shifted, p[f"input{index}_multiplier"], p[f"input{index}_shift"]
            )
        )
    raw = multiply_by_quantized_multiplier(
        scaled[0] + scaled[1], p["output_multiplier"], p["output_shift"]
    )
    out = np.clip(raw + p["output_offset"], p["act_min"], p["act_max"]).astype(np.int8)
    return out.reshape(out.shape[0], *out_shape)


def check(where, layer, in_shapes, out_shape):
    p = layer.params
    sizes = {_size(in_shapes[0]), _size(in_shapes[1]), _size(out_shape), p["size"]}
    require(len(sizes) == 1, f"{where}: both inputs and the output must have the same size")
    # (x + offset) * 2**left_shift stays below 255 * 2**20 < 2**28: a board small int.
    require(0 <= p["left_shift"] <= 20, f"{where}: left_shift must be in 0..20")
    for key in ("input1_offset", "input2_offset"):
        require(-127 <= p[key] <= 128, f"{where}: {key} must be minus an int8 zero point")
    require(-128 <= p["output_offset"] <= 127, f"{where}: output_offset out of range")
    for name in ("input1", "input2", "output"):
        check_multiplier(where, [p[f"{name}_multiplier"]], [p[f"{name}_shift"]])
        require(p[f"{name}_shift"] <= 0, f"{where}: {name}_shift must be <= 0 (a right shift)")


OPERATORS = (
    Operator(
        "ADD",
        7,
        (
            "size",
            "input1_offset",
            "input2_offset",
            "output_offset",
            "left_shift",
            "input1_multiplier",
            "input1_shift",
            "input2_multiplier",
            "input2_shift",
            "output_multiplier",
            "output_shift",
            *CLAMP,
        ),
        check,
        evaluate,
        output_shape=lambda layer: (layer.params["size"],),
        family="add",
        inputs=2,
    ),
)
