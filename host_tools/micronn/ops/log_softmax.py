"""int8 LOG_SOFTMAX over the last axis, bit-exact with TFLM's fixed-point reference kernel.

TensorFlow Lite Micro (reference/log_softmax.h LogSoftmaxQuantized; parameters from
micro/kernels/log_softmax.cc, PreprocessLogSoftmaxScalingExp) rescales each difference
d = q - max(row) to Q5.26, sums gemmlowp's exp_on_negative_values of them in Q12.19, takes
log_x_for_x_greater_than_or_equal_to_1 of the sum (Q5.26, L) and writes
clamp(RoundingDivideByPOT(d_q5 - L, 22) + 127) for every difference above
max(diff_min - 1, MultiplyByQuantizedMultiplier(L + INT32_MIN, reverse_scaling_divisor,
-reverse_scaling_right_shift)), else -128. The output is int8 with scale 16/256, zero point 127.

A difference takes only 256 values, so the container stores, per difference -i, its exp (as
SOFTMAX does), its Q5.26 rescaling (`diff`, clamped at -2^30: every value below gives -128)
and `limit`, the largest L for which the difference is written (the threshold above is
nondecreasing in L, so "d > threshold(L)" is "L <= limit[i]"). A board then needs only the sum,
the logarithm (firmware/micronn/logarithm.py, in 31-bit small ints) and one subtraction per value.
"""

import numpy as np

from micronn import gemmlowp
from micronn.fixedpoint import quantize_multiplier, rounding_divide_by_pot, wrap_int32
from micronn.gemmlowp import srdhm
from micronn.model import Layer
from micronn.ops import softmax
from micronn.ops.checks import require
from micronn.ops.checks import size as _size
from micronn.ops.operator import Operator

OUTPUT_SCALE, OUTPUT_ZERO_POINT = 16.0 / 256, 127
TABLE_SIZE = 256
MAX_DEPTH = softmax.MAX_DEPTH  # depth * 2**19 < 2**30: the Q12.19 sum stays a small int
DIFF_FLOOR = -(2**30)  # a rescaled difference at or below it always gives -128
LIMIT_NEVER, LIMIT_ALWAYS = -(2**30), 2**30 - 1
# the logarithm's range over every sum of 1 to MAX_DEPTH exps (tests/test_ops_log_softmax.py)
LOG_MIN, LOG_MAX = -(2**21), 2**29
INT32_MIN = -(2**31)
# gemmlowp constants of log_x_for_x_greater_than_or_equal_to_1_impl (Q0.31)
LOG_2 = 1488522236
SQRT_SQRT_HALF = 1805811301
SQRT_HALF = 1518500250
ONE_QUARTER = 536870912
ALPHA_N = 117049297
ALPHA_D = 127690142
ALPHA_I = 1057819769
ALPHA_F = 638450708
INPUT_INTEGER_BITS = 12  # the sum is Q12.19
OUTPUT_INTEGER_BITS = 5
ACCUM_INTEGER_BITS = OUTPUT_INTEGER_BITS + 1


def _sat_shift_left(x, exponent):
    """TFLite's SaturatingRoundingMultiplyByPOTParam for exponents >= 0 (elementwise)."""
    x = np.asarray(x, np.int64)
    exponent = np.asarray(exponent, np.int64)
    threshold = (np.int64(1) << (31 - exponent)) - 1
    shifted = wrap_int32(x << exponent)
    out = np.where(x > threshold, 2**31 - 1, np.where(x < -threshold, INT32_MIN, shifted))
    return np.where(exponent == 0, x, out)


def log_q5(total):
    """log_x_for_x_greater_than_or_equal_to_1<5>(FixedPoint<int32, 12>::FromRaw(total)).raw()
    (tensorflow/lite/kernels/internal/common.h), elementwise on int64 arrays."""
    z_a = np.asarray(total, np.int64)
    quarter = ONE_QUARTER >> ACCUM_INTEGER_BITS  # Rescale<6> of 1/4: exact
    headroom_a = gemmlowp.count_leading_zeros32(z_a)
    r_a_tmp = _sat_shift_left(z_a, headroom_a - 1)
    r_a = _sat_shift_left(srdhm(r_a_tmp, SQRT_HALF), 1)
    shift = 31 - ACCUM_INTEGER_BITS
    pow_a = np.minimum(_sat_shift_left(INPUT_INTEGER_BITS - headroom_a, shift) + quarter, 2**31 - 1)
    z_b = srdhm(z_a, SQRT_HALF)
    headroom_b = gemmlowp.count_leading_zeros32(z_b) - 1
    r_b = _sat_shift_left(z_a, headroom_b)
    pow_b = np.maximum(_sat_shift_left(INPUT_INTEGER_BITS - headroom_b, shift) - quarter, INT32_MIN)
    r = np.minimum(r_a, r_b)
    z_pow = np.maximum(pow_a, pow_b)
    p = gemmlowp.rounding_half_sum(r, SQRT_SQRT_HALF)
    q = wrap_int32(r - SQRT_SQRT_HALF)
    q = wrap_int32(q + q)
    common_sq = srdhm(q, q)
    num = wrap_int32(srdhm(q, r) + srdhm(srdhm(q, common_sq), ALPHA_N))
    inner = wrap_int32(wrap_int32(ALPHA_I + q) + srdhm(ALPHA_D, common_sq))
    denom = wrap_int32(srdhm(p, inner) + srdhm(ALPHA_F, q))
    recip = gemmlowp.one_over_one_plus_x_for_x_in_0_1(denom)
    num_scaled = rounding_divide_by_pot(num, ACCUM_INTEGER_BITS)
    acc = wrap_int32(srdhm(z_pow, LOG_2) + srdhm(num_scaled, recip))
    return _sat_shift_left(acc, ACCUM_INTEGER_BITS - OUTPUT_INTEGER_BITS)


def reverse_scaling(multiplier: int, left_shift: int) -> tuple[int, int]:
    """(reverse_scaling_divisor, reverse_scaling_right_shift) as PreprocessLogSoftmaxScalingExp
    and log_softmax.cc compute them (QuantizeMultiplierSmallerThanOneExp, the shift negated)."""
    if left_shift < 1:
        raise ValueError("LOG_SOFTMAX input scale is too large for TFLM (input_left_shift < 1)")
    real = float(1 << (31 - left_shift)) / float(multiplier)
    if not 0.0 < real < 1.0:
        raise ValueError(
            f"LOG_SOFTMAX reverse scaling {real!r} is not below 1 as TFLM requires; check the "
            "model's input quantization"
        )
    divisor, shift = quantize_multiplier(real)
    if shift > 0:
        raise ValueError("LOG_SOFTMAX reverse scaling needs a right shift (TFLM's check)")
    return divisor, -shift


def threshold(log_value, divisor: int, right_shift: int):
    """MultiplyByQuantizedMultiplier(L + INT32_MIN, divisor, -right_shift): the difference a value
    must exceed (with diff_min - 1) to be written."""
    shifted = wrap_int32(np.asarray(log_value, np.int64) + INT32_MIN)
    return rounding_divide_by_pot(srdhm(shifted, divisor), right_shift)


def tables(multiplier, left_shift, diff_min, divisor, right_shift) -> dict:
    """exp, diff and limit, each 256 int32 entries indexed by -difference."""
    exps = softmax.exp_table(multiplier, left_shift, diff_min)
    diff = -np.arange(TABLE_SIZE, dtype=np.int64)
    used = diff >= diff_min
    scaled = srdhm(np.where(used, diff, 0) << left_shift, multiplier)  # MBQM, left shift >= 1
    rescaled = np.where(used, np.maximum(scaled, DIFF_FLOOR), DIFF_FLOOR)
    # limit[i]: the largest L in [LOG_MIN, LOG_MAX] with threshold(L) < -i (binary search; the
    # threshold is nondecreasing in L)
    low = np.full(TABLE_SIZE, LOG_MIN - 1, np.int64)  # threshold(low) < -i, or below the range
    high = np.full(TABLE_SIZE, LOG_MAX + 1, np.int64)  # threshold(high) >= -i, or above it
    for _ in range(32):
        middle = (low + high) // 2
        below = threshold(middle, divisor, right_shift) < diff
        low, high = np.where(below, middle, low), np.where(below, high, middle)
    limit = np.where(low >= LOG_MAX, LIMIT_ALWAYS, np.where(low < LOG_MIN, LIMIT_NEVER, low))
    limit = np.where(used, limit, LIMIT_NEVER)
    return {
        "exp": exps.astype(np.int32),
        "diff": rescaled.astype(np.int32),
        "limit": limit.astype(np.int32),
    }


def prepare_log_softmax(
    shape, input_scale: float, output_scale: float, output_zero_point: int, inputs=(0,), output=1
) -> Layer:
    """A LOG_SOFTMAX layer over the last axis of `shape` (one sample's shape)."""
    if np.float32(output_scale) != np.float32(OUTPUT_SCALE) or output_zero_point != 127:
        raise ValueError(
            f"int8 LOG_SOFTMAX needs output scale 16/256 and zero point 127 (TFLM's Prepare "
            f"insists), got {output_scale!r} and {output_zero_point!r}"
        )
    depth = int(shape[-1])
    rows = int(np.prod(shape)) // depth
    if depth > MAX_DEPTH:
        raise ValueError(
            f"LOG_SOFTMAX over {depth} values is too wide: at most {MAX_DEPTH} keep the boards' "
            "31-bit sum exact; split the last axis"
        )
    # PreprocessSoftmaxScaling with beta 1 and the double input scale
    try:
        multiplier, left_shift, diff_min = softmax.input_rescaling(1.0, input_scale)
    except ValueError as error:
        raise ValueError(str(error).replace("SOFTMAX", "LOG_SOFTMAX")) from None
    divisor, right_shift = reverse_scaling(multiplier, left_shift)
    params = {
        "rows": rows,
        "depth": depth,
        "input_multiplier": multiplier,
        "input_left_shift": left_shift,
        "reverse_scaling_divisor": divisor,
        "reverse_scaling_right_shift": right_shift,
        "diff_min": diff_min,
    }
    data = tables(multiplier, left_shift, diff_min, divisor, right_shift)
    return Layer("LOG_SOFTMAX", params, data, tuple(inputs), output)


def evaluate(layer, inputs, out_shape):
    """TFLM's LogSoftmaxQuantized, step by step (the tables only give exp and the rescaling)."""
    x = inputs[0]
    p = layer.params
    rows = np.asarray(x, np.int64).reshape(-1, p["depth"])
    index = rows.max(axis=1, keepdims=True) - rows
    exps = np.asarray(layer.exp, np.int64)[index]
    terms = rounding_divide_by_pot(exps, softmax.ACCUMULATION_INTEGER_BITS)
    total = wrap_int32(terms.sum(axis=1, keepdims=True))
    log_value = log_q5(total)
    limit = threshold(log_value, p["reverse_scaling_divisor"], p["reverse_scaling_right_shift"])
    adjusted = np.maximum(p["diff_min"] - 1, limit)
    diff = -index
    scaled = srdhm(np.where(diff >= p["diff_min"], diff, 0) << p["input_left_shift"],
                   p["input_multiplier"])  # fmt: skip
    value = rounding_divide_by_pot(wrap_int32(scaled - log_value), 31 - 5 - 4) + 127
    out = np.where(diff > adjusted, np.clip(value, -128, 127), -128).astype(np.int8)
    return out.reshape(x.shape[0], *out_shape)


def check(where, layer, in_shapes, out_shape):
    p = layer.params
    depth = p["depth"]
    require(p["rows"] >= 1 and 1 <= depth <= MAX_DEPTH, f"{where}: depth must be 1..{MAX_DEPTH}")
    size = p["rows"] * depth
    require(_size(in_shapes[0]) == size == _size(out_shape), f"{where}: size mismatch")
    multiplier, left_shift = p["input_multiplier"], p["input_left_shift"]
    require(
        2**30 <= multiplier < 2**31 and 1 <= left_shift <= 31,
        f"{where}: input_multiplier must be in [2^30, 2^31) and input_left_shift in 1..31",
    )
    require(p["diff_min"] == softmax.diff_min_for(left_shift), f"{where}: diff_min does not match")
    divisor, right_shift = p["reverse_scaling_divisor"], p["reverse_scaling_right_shift"]
    require(
        2**30 <= divisor < 2**31 and 0 <= right_shift <= 31,
        f"{where}: reverse_scaling_divisor must be in [2^30, 2^31), its shift in 0..31",
    )
    expected = tables(multiplier, left_shift, p["diff_min"], divisor, right_shift)
    for name, values in expected.items():
        require(
            np.array_equal(layer.tensors[name], values),
            f"{where}: the {name} table is not TFLM's for these parameters",
        )


OPERATORS = (
    Operator(
        "LOG_SOFTMAX",
        21,
        (
            "rows",
            "depth",
            "input_multiplier",
            "input_left_shift",
            "reverse_scaling_divisor",
            "reverse_scaling_right_shift",
            "diff_min",
        ),
        check,
        evaluate,
        output_shape=lambda layer: (layer.params["rows"] * layer.params["depth"],),
        family="log_softmax",
        tensors=(("exp", "int32"), ("diff", "int32"), ("limit", "int32")),
    ),
)
