"""int8 PRELU with the alpha tensor broadcast (usually per channel), bit-exact with TFLM's
reference (reference_ops::BroadcastPrelu4DSlow; parameters from micro/kernels/prelu_common.cc
CalculatePreluParams):

    v = x + input_offset
    out = clamp(output_offset + (MBQM(v, m1, s1)                          if v >= 0
                                 MBQM(v * (alpha + alpha_offset), m2, s2)  otherwise))

with (m1, s1) = QuantizeMultiplier(double(s_in) / double(s_out)) (the identity) and
(m2, s2) = QuantizeMultiplier(double(s_in) * double(s_alpha) / double(s_out)), clamped to
-128..127 (PRELU has no fused activation). |v| <= 255 and |v * alpha'| <= 255 * 255, so the rules
allow left shifts of at most 22 and 14. Input 1 is x, input 2 the alpha tensor.
"""

import numpy as np

from micronn.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier
from micronn.model import Layer
from micronn.ops import broadcast
from micronn.ops.checks import SMALL_INT_LIMIT, check_multiplier, require
from micronn.ops.operator import Operator

IDENTITY_LIMIT = 255  # |x - zp| for int8 codes and zero points
PRODUCT_LIMIT = 255 * 255
MAX_IDENTITY_SHIFT = 22  # 255 << 22 < 2^30
MAX_ALPHA_SHIFT = 14  # 255 * 255 << 14 < 2^30
PARAMS = (
    *broadcast.GEOMETRY,
    "input_offset",
    "alpha_offset",
    "output_offset",
    "identity_multiplier",
    "identity_shift",
    "alpha_multiplier",
    "alpha_shift",
)


def prepare_prelu(
    shape, alpha_shape, input: tuple, alpha: tuple, output: tuple, inputs=(0, 1),
    output_tensor=2,
) -> Layer:  # fmt: skip
    """A PRELU layer of x shaped `shape` and alpha shaped `alpha_shape` (broadcast as NumPy
    does); input, alpha, output: (scale, zero_point)."""
    for name, (scale, zero_point) in (("input", input), ("alpha", alpha), ("output", output)):
        if not -128 <= zero_point <= 127:
            raise ValueError(f"PRELU {name} zero point {zero_point} is outside -128..127")
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"PRELU {name} scale must be finite and > 0, got {scale}")
    s_in, s_alpha, s_out = (float(np.float32(s)) for s in (input[0], alpha[0], output[0]))
    identity = quantize_multiplier(s_in / s_out)
    slope = quantize_multiplier(s_in * s_alpha / s_out)
    if identity[1] > MAX_IDENTITY_SHIFT or slope[1] > MAX_ALPHA_SHIFT:
        raise ValueError(
            f"PRELU scales give multipliers of {s_in / s_out:.6g} and {s_in * s_alpha / s_out:.6g};"
            " micronn needs s_in / s_out below 2^22 and s_in * s_alpha / s_out below 2^14 so that "
            "values stay in the boards' 31-bit integers; widen the output range"
        )
    params = broadcast.broadcast_geometry(shape, alpha_shape) | {
        "input_offset": -int(input[1]),
        "alpha_offset": -int(alpha[1]),
        "output_offset": int(output[1]),
        "identity_multiplier": int(identity[0]),
        "identity_shift": int(identity[1]),
        "alpha_multiplier": int(slope[0]),
        "alpha_shift": int(slope[1]),
    }
    return Layer("PRELU", params, {}, tuple(inputs), output_tensor)


def evaluate(layer, inputs, out_shape):
    p = layer.params
    x, alpha = broadcast.gather(layer, inputs)
    v = x + p["input_offset"]
    positive = multiply_by_quantized_multiplier(
        np.maximum(v, 0), p["identity_multiplier"], p["identity_shift"]
    )
    negative = multiply_by_quantized_multiplier(
        np.minimum(v, 0) * (alpha + p["alpha_offset"]), p["alpha_multiplier"], p["alpha_shift"]
    )
    out = np.where(v >= 0, positive, negative) + p["output_offset"]
    out = np.clip(out, -128, 127).astype(np.int8)
    return out.reshape(out.shape[0], *out_shape)


def check(where, layer, in_shapes, out_shape):
    p = layer.params
    broadcast.check_geometry(where, layer, in_shapes, out_shape)
    for key in ("input_offset", "alpha_offset"):
        require(-127 <= p[key] <= 128, f"{where}: {key} must be minus an int8 zero point")
    require(-128 <= p["output_offset"] <= 127, f"{where}: output_offset out of range")
    for name, limit, most in (
        ("identity", IDENTITY_LIMIT, MAX_IDENTITY_SHIFT),
        ("alpha", PRODUCT_LIMIT, MAX_ALPHA_SHIFT),
    ):
        shift = p[f"{name}_shift"]
        check_multiplier(where, [p[f"{name}_multiplier"]], [shift])
        require(
            limit << max(shift, 0) < SMALL_INT_LIMIT,
            f"{where}: {name}_shift {shift} lets values pass 2^30; it must be <= {most}",
        )


OPERATORS = (
    Operator(
        "PRELU", 17, PARAMS, check, evaluate, broadcast.output_shape, family="broadcast", inputs=2
    ),
)
