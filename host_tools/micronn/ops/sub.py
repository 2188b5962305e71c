"""int8 SUB of two tensors with broadcasting, bit-exact with TFLM's reference
(reference_ops/sub.h SubElementwise, BroadcastQuantSubSlow; parameters from
micro/kernels/sub_common.cc CalculateOpDataSub):

    a' = MBQM((a + input1_offset) << 20, m1, s1), b' = MBQM((b + input2_offset) << 20, m2, s2)
    out = clamp(output_offset + MBQM(a' - b', m_out, s_out))

the ADD rescaling (ops/add.py) over the broadcast walk of ops/broadcast.py. SUB and
ADD_BROADCAST (ops/add_broadcast.py) share this "rescaled" parametrisation: the broadcast geometry,
then ADD's parameters. TFLM derives SUB's multipliers in float32 (2 * max(s1, s2), s1 / that,
that / (2^20 * s_out), each rounded to float32 before QuantizeMultiplierSmallerThanOneExp), ADD's
in double; prepare_rescaled takes which.
"""

import numpy as np

from micronn.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier
from micronn.model import Layer
from micronn.ops import broadcast
from micronn.ops.checks import check_multiplier, require
from micronn.ops.operator import CLAMP, Operator
from micronn.tflite_int8 import activation_range

LEFT_SHIFT = 20
RESCALED = (
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
)
PARAMS = (*broadcast.GEOMETRY, *RESCALED)


def _smaller_than_one(op_name: str, real: float, what: str) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp: TFLM checks 0 < real < 1."""
    if not 0.0 < real < 1.0:
        raise ValueError(
            f"{op_name} {what} multiplier {real!r} is not in (0, 1) as TFLM requires; the output "
            "scale must exceed 2 * max(input scales) / 2^20"
        )
    return quantize_multiplier(real)


def prepare_rescaled(
    op_name: str,
    shape1,
    shape2,
    input1: tuple,
    input2: tuple,
    output: tuple,
    activation: str = "none",
    inputs=(0, 1),
    output_tensor=2,
    float32: bool = True,
) -> Layer:
    """A SUB or ADD_BROADCAST layer of tensors shaped shape1 and shape2 (broadcast as NumPy
    does); input1, input2, output: (scale, zero_point). float32: derive the multipliers in
    float32 as TFLM's SUB does (False: in double, as its ADD)."""
    for name, (scale, zero_point) in (("input1", input1), ("input2", input2), ("output", output)):
        if not -128 <= zero_point <= 127:
            raise ValueError(f"{op_name} {name} zero point {zero_point} is outside -128..127")
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"{op_name} {name} scale must be finite and > 0, got {scale}")
    s1, s2, so = (np.float32(s) for s in (input1[0], input2[0], output[0]))
    if float32:
        twice = np.float32(2) * max(s1, s2)
        real1, real2 = float(s1 / twice), float(s2 / twice)
        real_out = float(twice / (np.float32(1 << LEFT_SHIFT) * so))
    else:
        twice = 2 * float(max(s1, s2))
        real1, real2 = float(s1) / twice, float(s2) / twice
        real_out = twice / (float(1 << LEFT_SHIFT) * float(so))
    multiplier1, shift1 = _smaller_than_one(op_name, real1, "input1")
    multiplier2, shift2 = _smaller_than_one(op_name, real2, "input2")
    out_multiplier, out_shift = _smaller_than_one(op_name, real_out, "output")
    act_min, act_max = activation_range(activation, output[0], output[1])
    params = broadcast.broadcast_geometry(shape1, shape2) | {
        "input1_offset": -int(input1[1]),
        "input2_offset": -int(input2[1]),
        "output_offset": int(output[1]),
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
    return Layer(op_name, params, {}, tuple(inputs), output_tensor, activation)


def prepare_sub(
    shape1, shape2, input1, input2, output, activation="none", inputs=(0, 1), output_tensor=2
) -> Layer:
    """SUB: input1 - input2, TFLM's float32 Prepare (sub_common.cc)."""
    return prepare_rescaled(
        "SUB", shape1, shape2, input1, input2, output, activation, inputs, output_tensor, True
    )


def evaluate_rescaled(layer, inputs, out_shape, sign):
    p = layer.params
    scaled = []
    for index, x in enumerate(broadcast.gather(layer, inputs), start=1):
        shifted = (x + p[f"input{index}_offset"]) << p["left_shift"]
        scaled.append(
            multiply_by_quantized_multiplier(
                shifted, p[f"input{index}_multiplier"], p[f"input{index}_shift"]
            )
        )
    raw = multiply_by_quantized_multiplier(
        scaled[0] + sign * scaled[1], p["output_multiplier"], p["output_shift"]
    )
    out = np.clip(raw + p["output_offset"], p["act_min"], p["act_max"]).astype(np.int8)
    return out.reshape(out.shape[0], *out_shape)


def evaluate(layer, inputs, out_shape):
    return evaluate_rescaled(layer, inputs, out_shape, -1)


def check(where, layer, in_shapes, out_shape):
    """ADD's rules (ops/add.py) on the broadcast geometry: |(x + offset) << 20| < 255 * 2^20 and
    every multiplier below one keep each value under 2^29."""
    p = layer.params
    broadcast.check_geometry(where, layer, in_shapes, out_shape)
    require(0 <= p["left_shift"] <= 20, f"{where}: left_shift must be in 0..20")
    for key in ("input1_offset", "input2_offset"):
        require(-127 <= p[key] <= 128, f"{where}: {key} must be minus an int8 zero point")
    require(-128 <= p["output_offset"] <= 127, f"{where}: output_offset out of range")
    for name in ("input1", "input2", "output"):
        check_multiplier(where, [p[f"{name}_multiplier"]], [p[f"{name}_shift"]])
        require(p[f"{name}_shift"] <= 0, f"{where}: {name}_shift must be <= 0 (a right shift)")


OPERATORS = (
    Operator(
        "SUB",
        13,
        PARAMS,
        check,
        evaluate,
        broadcast.output_shape,
        family="broadcast",
        inputs=2,
    ),
)
