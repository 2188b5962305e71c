"""int8 MUL of two tensors with broadcasting, bit-exact with TFLM's reference
(reference_integer_ops/mul.h MulElementwise, BroadcastMul6DSlow; parameters from
micro/kernels/mul_common.cc CalculateOpDataMul):

    out = clamp(output_zero_point + MBQM((a - zp1) * (b - zp2), m, shift))

with (m, shift) = QuantizeMultiplier(double(s1) * double(s2) / double(s_out)).
"""

import numpy as np

from micronn.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier
from micronn.model import Layer
from micronn.ops import broadcast
from micronn.ops.checks import SMALL_INT_LIMIT, check_multiplier, require
from micronn.ops.operator import CLAMP, Operator
from micronn.tflite_int8 import activation_range

PRODUCT_LIMIT = 255 * 255  # |(a - zp1) * (b - zp2)| for int8 codes and zero points
ZERO_POINTS = ("input1_zero_point", "input2_zero_point", "output_zero_point")


def prepare_mul(
    shape1,
    shape2,
    input1: tuple,
    input2: tuple,
    output: tuple,
    activation: str = "none",
    inputs=(0, 1),
    output_tensor=2,
) -> Layer:
    """A MUL layer of tensors shaped shape1 and shape2 (broadcast as NumPy does); input1,
    input2, output: (scale, zero_point) as float32 scales and int8 zero points."""
    for name, (scale, zero_point) in (("input1", input1), ("input2", input2), ("output", output)):
        if not -128 <= zero_point <= 127:
            raise ValueError(f"MUL {name} zero point {zero_point} is outside -128..127")
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"MUL {name} scale must be finite and > 0, got {scale}")
    real = float(np.float32(input1[0])) * float(np.float32(input2[0]))
    real /= float(np.float32(output[0]))
    multiplier, shift = quantize_multiplier(real)
    if PRODUCT_LIMIT << max(shift, 0) >= SMALL_INT_LIMIT:
        raise ValueError(
            f"MUL scales give a multiplier of {real:.6g}; micronn needs s1 * s2 / s_out below "
            "2^14 so that products stay in the boards' 31-bit integers; widen the output range"
        )
    act_min, act_max = activation_range(activation, output[0], output[1])
    params = broadcast.broadcast_geometry(shape1, shape2) | {
        "input1_zero_point": int(input1[1]),
        "input2_zero_point": int(input2[1]),
        "output_zero_point": int(output[1]),
        "output_multiplier": int(multiplier),
        "output_shift": int(shift),
        "act_min": act_min,
        "act_max": act_max,
    }
    return Layer("MUL", params, {}, tuple(inputs), output_tensor, activation)


def evaluate(layer, inputs, out_shape):
    p = layer.params
    a, b = broadcast.gather(layer, inputs)
    product = (a - p["input1_zero_point"]) * (b - p["input2_zero_point"])
    scaled = multiply_by_quantized_multiplier(product, p["output_multiplier"], p["output_shift"])
    out = np.clip(scaled + p["output_zero_point"], p["act_min"], p["act_max"])
    return out.astype(np.int8).reshape(out.shape[0], *out_shape)


def check(where, layer, in_shapes, out_shape):
    p = layer.params
    for key in ZERO_POINTS:
        require(-128 <= p[key] <= 127, f"{where}: {key} is outside -128..127")
    broadcast.check_geometry(where, layer, in_shapes, out_shape)
    check_multiplier(where, [p["output_multiplier"]], [p["output_shift"]])
    require(
        PRODUCT_LIMIT << max(p["output_shift"], 0) < SMALL_INT_LIMIT,
        f"{where}: output_shift {p['output_shift']} lets products pass 2^30; it must be <= 14",
    )


OPERATORS = (
    Operator(
        "MUL",
        11,
        (*broadcast.GEOMETRY, *ZERO_POINTS, "output_multiplier", "output_shift", *CLAMP),
        check,
        evaluate,
        broadcast.output_shape,
        family="broadcast",
        inputs=2,
    ),
)
