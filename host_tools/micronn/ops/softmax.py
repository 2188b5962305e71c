"""int8 SOFTMAX over the last axis, bit-exact with TFLM's fixed-point reference kernel.

TensorFlow Lite Micro (reference/softmax.h; parameters from micro/kernels/softmax_common.cc)
rescales each difference q - max(row) to Q5.26, takes gemmlowp's exp_on_negative_values, sums
the exps in Q12.19, inverts the sum with GetReciprocal and scales each exp by it to an int8 with
scale 1/256 and zero point -128. A difference takes only 256 values, so the container stores the
exp of each (`exp`, Q0.31) and everything after that is integer arithmetic on the table.
"""

import math

import numpy as np

from micronn import gemmlowp
from micronn.fixedpoint import quantize_multiplier, rounding_divide_by_pot
from micronn.gemmlowp import srdhm
from micronn.model import Layer
from micronn.ops.checks import require
from micronn.ops.checks import size as _size
from micronn.ops.operator import Operator

SCALED_DIFF_INTEGER_BITS = 5
ACCUMULATION_INTEGER_BITS = 12
OUTPUT_SCALE, OUTPUT_ZERO_POINT = 1.0 / 256, -128
TABLE_SIZE = 256  # exp[i] is for the difference -i
# Each exp adds at most 2**19 to the Q12.19 sum; depth * 2**19 < 2**30 keeps the sum a board
# small int (TFLM itself overflows its int32 sum past 4096 values).
MAX_DEPTH = 2047
_MAX_REAL_MULTIPLIER = float((1 << 31) - 1)


def input_rescaling(beta: float, input_scale: float) -> tuple[int, int, int]:
    """(input_multiplier, input_left_shift, diff_min): PreprocessSoftmaxScaling with 5 integer
    bits, then CalculateInputRadius, as TFLM's Prepare computes them."""
    beta = float(np.float32(beta))
    scale = float(np.float32(input_scale))
    real = min(beta * scale * float(1 << (31 - SCALED_DIFF_INTEGER_BITS)), _MAX_REAL_MULTIPLIER)
    if not real > 1.0:
        raise ValueError(
            f"SOFTMAX beta x input scale = {beta * scale!r} is not above 2^-26 as TFLM requires "
            "(QuantizeMultiplierGreaterThanOne); check the model's beta and input quantization"
        )
    multiplier, left_shift = quantize_multiplier(real)
    return multiplier, left_shift, diff_min_for(left_shift)


def diff_min_for(left_shift: int) -> int:
    """-CalculateInputRadius(5, left_shift): differences below it contribute nothing."""
    bits = SCALED_DIFF_INTEGER_BITS
    return -math.floor(float((1 << bits) - 1) * float(1 << (31 - bits)) / 2.0**left_shift)


def exp_table(multiplier: int, left_shift: int, diff_min: int) -> np.ndarray:
    """exp[i] = exp_on_negative_values(diff = -i rescaled to Q5.26), Q0.31; 0 below diff_min."""
    diff = -np.arange(TABLE_SIZE, dtype=np.int64)
    used = diff >= diff_min
    # MultiplyByQuantizedMultiplierGreaterThanOne; |diff| * 2**left_shift <= 31 * 2**26 here.
    scaled = srdhm(np.where(used, diff, 0) << left_shift, multiplier)
    exps = gemmlowp.exp_on_negative_values(scaled, SCALED_DIFF_INTEGER_BITS)
    return np.where(used, exps, 0).astype(np.int32)


def prepare_softmax(
    shape,
    beta: float,
    input_scale: float,
    output_scale: float,
    output_zero_point: int,
    inputs=(0,),
    output=1,
) -> Layer:
    """A SOFTMAX layer over the last axis of `shape` (one sample's shape)."""
    if np.float32(output_scale) != np.float32(OUTPUT_SCALE) or output_zero_point != -128:
        raise ValueError(
            f"int8 SOFTMAX needs output scale 1/256 and zero point -128 (TFLM's Prepare "
            f"insists), got {output_scale!r} and {output_zero_point!r}"
        )
    if not len(shape) or min(shape) < 1:
        raise ValueError(f"SOFTMAX needs a tensor with values, got shape {list(shape)}")
    depth = int(shape[-1])
    rows = int(np.prod(shape)) // depth
    if depth > MAX_DEPTH:
        raise ValueError(
            f"SOFTMAX over {depth} values is too wide: at most {MAX_DEPTH} keep the boards' "
            "31-bit sum exact; split the last axis"
        )
    multiplier, left_shift, diff_min = input_rescaling(beta, input_scale)
    params = {
        "rows": rows,
        "depth": depth,
        "input_multiplier": multiplier,
        "input_left_shift": left_shift,
        "diff_min": diff_min,
    }
    table = exp_table(multiplier, left_shift, diff_min)
    return Layer("SOFTMAX", params, {"exp": table}, tuple(inputs), output)


def reciprocal(total):
    """GetReciprocal(total, 12): (1 / total as Q0.31 of the normalised sum, num_bits_over_unit)."""
    total = np.asarray(total, np.int64)
    headroom_plus_one = gemmlowp.count_leading_zeros32(total)
    shifted_sum_minus_one = ((total << headroom_plus_one) & 0xFFFFFFFF) - (1 << 31)
    scale = gemmlowp.one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one)
    return scale, ACCUMULATION_INTEGER_BITS - headroom_plus_one


def evaluate(layer, inputs, out_shape):
    x = inputs[0]
    depth = layer.depth
    rows = np.asarray(x, np.int64).reshape(-1, depth)
    exps = np.asarray(layer.exp, np.int64)[rows.max(axis=1, keepdims=True) - rows]
    terms = rounding_divide_by_pot(exps, ACCUMULATION_INTEGER_BITS)  # Rescale<12> of Q0.31
    scale, bits_over_unit = reciprocal(terms.sum(axis=1, keepdims=True))
    exponent = bits_over_unit + 31 - 8
    # TFLM stops with a failed check past 31 (a sum >= 2**28, only for depth >= 512); the
    # rounded quotient is then 0 and the output -128.
    scaled = rounding_divide_by_pot(srdhm(scale, exps), np.minimum(exponent, 31))
    scaled = np.where(exponent > 31, 0, scaled)
    out = np.clip(scaled - 128, -128, 127).astype(np.int8)
    return out.reshape(x.shape[0], *out_shape)


def check(where, layer, in_shapes, out_shape):
    p = layer.params
    depth = p["depth"]
    require(p["rows"] >= 1 and 1 <= depth <= MAX_DEPTH, f"{where}: depth must be 1..{MAX_DEPTH}")
    size = p["rows"] * depth
    require(_size(in_shapes[0]) == size == _size(out_shape), f"{where}: size mismatch")
    multiplier, left_shift = p["input_multiplier"], p["input_left_shift"]
    require(
        2**30 <= multiplier < 2**31 and 0 <= left_shift <= 31,
        f"{where}: input_multiplier must be in [2^30, 2^31) and input_left_shift in 0..31",
    )
    require(p["diff_min"] == diff_min_for(left_shift), f"{where}: diff_min does not match")
    require(
        np.array_equal(layer.exp, exp_table(multiplier, left_shift, p["diff_min"])),
        f"{where}: the exp table is not TFLM's for these parameters",
    )


OPERATORS = (
    Operator(
        "SOFTMAX",
        10,
        ("rows", "depth", "input_multiplier", "input_left_shift", "diff_min"),
        check,
        evaluate,
        output_shape=lambda layer: (layer.params["rows"] * layer.params["depth"],),
        family="softmax",
        tensors=(("exp", "int32"),),
    ),
)
