"""LOOKUP: any int8 -> int8 function of one input, stored as its 256-entry table.

An int8 input has only 256 codes, so every element-wise function of one input is a table. The
host fills the table by running TensorFlow Lite Micro's int8 reference kernel once per code, a
line-by-line transcription of each (below); the board only looks the answer up, with the
LOGISTIC/TANH kernels (family "lut"): out = table[q & 0xFF]. One record serves them all, so a
new function of this kind needs no new device code and no runtime update.

`source` names the TFLite operator (or framework layer) the table came from, for `inspect`; it is
informative, an index into SOURCES (append only), and any value 0..255 is valid.

The transcriptions (pinned tflite-micro, tensorflow/lite/micro/kernels/ and
tensorflow/lite/kernels/internal/reference/):
- HARD_SWISH: hard_swish_common.cc (Prepare, float32 scales) and reference_ops::HardSwish (int16
  fixed point, gemmlowp's int16 SaturatingRoundingDoublingHighMul and RoundingDivideByPOT);
- LEAKY_RELU: leaky_relu_common.cc and reference_ops::QuantizeLeakyRelu (identity and alpha
  multipliers, a negative alpha by its magnitude);
- RELU, RELU_N1_TO_1: activations_common.cc CalculateReluOpData and ReluQuantized (a multiplier
  from input to output scale, then the clamp); TFLM has no RELU_N1_TO_1 kernel, TFLite's
  (lite/kernels/activations.cc, QuantizedReluX(-1, 1)) is the same algorithm;
- RELU6: Relu6Prepare / Relu6Quantized: a clamp of the raw codes to [zero_point, quantized 6] of
  the *input* parameters (TFLM ignores the output's);
- QUANTIZE int8 -> int8: quantize_common.cc and reference_ops::Requantize.
"""

import math

import numpy as np

from micronn.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier
from micronn.model import Layer
from micronn.ops import lookup
from micronn.ops.checks import require
from micronn.ops.operator import Operator

# informative `source` codes; never renumber, only append
SOURCES = (
    "LOOKUP",
    "HARD_SWISH",
    "LEAKY_RELU",
    "RELU",
    "RELU6",
    "RELU_N1_TO_1",
    "QUANTIZE",
    "CLIP",
    "KERAS_RELU",
)
MAX_SOURCE = 255
CODES = lookup.CODES
UINT8_ORDER = lookup.UINT8_ORDER
INT16_MIN, INT16_MAX = -(2**15), 2**15 - 1


def source_name(source: int) -> str:
    return SOURCES[source] if 0 <= source < len(SOURCES) else f"source {source}"


def _f32(x) -> np.float32:
    return np.float32(x)


def _by_uint8(values) -> np.ndarray:
    """int8 outputs for CODES (-128..127), reordered to be indexed by the uint8 bit pattern."""
    return np.clip(values, -128, 127).astype(np.int8)[UINT8_ORDER]


def _check_zero_points(op, *zero_points):
    for zero_point in zero_points:
        if not -128 <= zero_point <= 127:
            raise ValueError(f"{op} zero point {zero_point} is outside -128..127")


# ---------------------------------------------------------------- int16 helpers (HARD_SWISH)


def _wrap16(x):
    return ((np.asarray(x, np.int64) + 2**15) & 0xFFFF) - 2**15


def _srdhm16(a, b):
    """gemmlowp SaturatingRoundingDoublingHighMul<int16_t>."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    overflow = (a == b) & (a == INT16_MIN)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 14, 1 - (1 << 14))
    total = ab + nudge
    quotient = np.where(total < 0, -(np.abs(total) >> 15), total >> 15)  # C division truncates
    return np.where(overflow, INT16_MAX, _wrap16(quotient))


def _doubling_high_mul16(a, b):
    """reference_ops::SaturatingDoublingHighMul (hard_swish.h): no rounding nudge."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    overflow = (a == b) & (a == INT16_MIN)
    ab = a * b
    quotient = np.where(ab < 0, -(np.abs(ab) >> 15), ab >> 15)
    return np.where(overflow, INT16_MAX, _wrap16(quotient))


def _saturating_left_shift16(value, amount: int):
    return np.clip(np.asarray(value, np.int64) * (1 << amount), INT16_MIN, INT16_MAX)


def _rdbpot16(x, exponent: int):
    """gemmlowp RoundingDivideByPOT<int16_t>, including its int16 mask for exponents >= 16."""
    x = np.asarray(x, np.int64)
    mask = int(_wrap16((1 << exponent) - 1))
    remainder = _wrap16(x & mask)
    threshold = _wrap16((mask >> 1) + (x < 0))
    return _wrap16((x >> exponent) + (remainder > threshold))


def _downscale_to_int16(multiplier: int) -> int:
    """DownScaleInt32ToInt16Multiplier (kernels/internal/common.h)."""
    if multiplier >= 2**31 - 1 - (1 << 15):
        return INT16_MAX
    return (multiplier + (1 << 15)) >> 16


# ---------------------------------------------------------------- the TFLM transcriptions


def hard_swish_params(input_scale: float, output_scale: float) -> tuple:
    """HardSwishPrepare: (output_multiplier_int16, output_exponent, reluish_multiplier_int16,
    reluish_exponent), from float32 scales as TFLM computes them."""
    hires = _f32(_f32(1.0 / 128.0) * _f32(input_scale))
    reluish_scale = _f32(3.0) / _f32(32768.0)
    output_m32, output_exponent = quantize_multiplier(float(_f32(hires / _f32(output_scale))))
    if output_exponent > 0:
        raise ValueError(
            f"HARD_SWISH input scale {input_scale!r} / output scale {output_scale!r} is too large "
            "for TFLM's int8 kernel (its output multiplier must be below 1); use a larger output "
            "scale"
        )
    reluish_m32, reluish_exponent = quantize_multiplier(float(_f32(hires / reluish_scale)))
    return (
        _downscale_to_int16(output_m32),
        output_exponent,
        _downscale_to_int16(reluish_m32),
        reluish_exponent,
    )


def hard_swish_table(input_scale, input_zero_point, output_scale, output_zero_point):
    """reference_ops::HardSwish<int8_t> for every code, indexed by the uint8 bit pattern."""
    _check_zero_points("HARD_SWISH", input_zero_point, output_zero_point)
    output_m, output_exponent, reluish_m, reluish_exponent = hard_swish_params(
        input_scale, output_scale
    )
    value = _wrap16(CODES - input_zero_point)
    hires = _wrap16(value * (1 << 7))
    preshift_output = _srdhm16(hires, output_m)
    reluish = hires
    if reluish_exponent > 0:
        reluish = _saturating_left_shift16(reluish, reluish_exponent - 1)
    reluish = _srdhm16(reluish, reluish_m)
    if reluish_exponent > 0:
        reluish = _saturating_left_shift16(reluish, 1)
    if reluish_exponent < 0:
        reluish = _rdbpot16(reluish, -reluish_exponent)
    reluish = _wrap16((reluish + (1 << 15)) >> 1)
    preshift = _doubling_high_mul16(reluish, preshift_output)
    out = _wrap16(_rdbpot16(preshift, -output_exponent) + output_zero_point)
    return _by_uint8(out)


def _signed_multiplier(real: float, what: str) -> tuple:
    """QuantizeMultiplier of a real that may be negative (frexp keeps the sign)."""
    if not math.isfinite(real):
        raise ValueError(f"{what} multiplier {real!r} is not finite")
    multiplier, shift = quantize_multiplier(abs(real))
    if real < 0 and math.floor(math.frexp(-real)[0] * 2**31 + 0.5) == 2**31:
        # TFLM keeps -2^31 un-normalised here and overflows negating it
        raise ValueError(f"{what} multiplier {real!r} overflows TFLM's int32 arithmetic")
    return (-multiplier if real < 0 else multiplier), shift


def leaky_relu_table(input_scale, input_zero_point, output_scale, output_zero_point, alpha):
    """reference_ops::QuantizeLeakyRelu<int8_t> with CalculateOpDataLeakyRelu's multipliers."""
    _check_zero_points("LEAKY_RELU", input_zero_point, output_zero_point)
    s_in, s_out, a = _f32(input_scale), _f32(output_scale), _f32(alpha)
    alpha_m, alpha_shift = _signed_multiplier(float(_f32(_f32(s_in * a) / s_out)), "alpha")
    identity_m, identity_shift = quantize_multiplier(float(_f32(s_in / s_out)))
    value = CODES - input_zero_point
    identity = multiply_by_quantized_multiplier(value, identity_m, identity_shift)
    scaled = multiply_by_quantized_multiplier(value, abs(alpha_m), alpha_shift)
    negative = -scaled if alpha_m < 0 else scaled
    out = output_zero_point + np.where(value >= 0, identity, negative)
    return _by_uint8(out)


def _relu_bound(value: float, output_scale: float, output_zero_point: int) -> int:
    """output_zero_point + int(roundf(value / scale)) (float32 division, half away)."""
    quotient = float(_f32(_f32(value) / _f32(output_scale)))
    return output_zero_point + int(math.copysign(math.floor(abs(quotient) + 0.5), quotient))


def relu_table(op, input_scale, input_zero_point, output_scale, output_zero_point):
    """RELU, RELU_N1_TO_1 (ReluQuantized) and RELU6 (Relu6Quantized), every code."""
    _check_zero_points(op, input_zero_point, output_zero_point)
    if op == "RELU6":
        six = _relu_bound(6.0, input_scale, input_zero_point)
        six = min(max(six, -128), 127)  # FloatToQuantizedType clamps to int8
        out = np.where(
            CODES > six, six, np.where(CODES < input_zero_point, input_zero_point, CODES)
        )
        return _by_uint8(out)
    low, high = {"RELU": (0.0, None), "RELU_N1_TO_1": (-1.0, 1.0)}[op]
    multiplier, shift = quantize_multiplier(float(_f32(_f32(input_scale) / _f32(output_scale))))
    act_min = max(-128, _relu_bound(low, output_scale, output_zero_point))
    act_max = 127 if high is None else min(127, _relu_bound(high, output_scale, output_zero_point))
    out = output_zero_point + multiply_by_quantized_multiplier(
        CODES - input_zero_point, multiplier, shift
    )
    return _by_uint8(np.minimum(np.maximum(out, act_min), act_max))


def requantize_table(input_scale, input_zero_point, output_scale, output_zero_point):
    """QUANTIZE int8 -> int8: reference_ops::Requantize with quantize_common.cc's multiplier
    (double(input_scale) / double(output_scale))."""
    _check_zero_points("QUANTIZE", input_zero_point, output_zero_point)
    multiplier, shift = quantize_multiplier(
        float(np.float64(_f32(input_scale)) / np.float64(_f32(output_scale)))
    )
    out = (
        multiply_by_quantized_multiplier(CODES - input_zero_point, multiplier, shift)
        + output_zero_point
    )
    return _by_uint8(out)


def float_table(function, input_scale, input_zero_point, output_scale, output_zero_point):
    """A float function of the dequantized input, quantized to the output (for framework
    layers TFLite has no int8 kernel for, e.g. ONNX Clip or Keras ReLU's threshold): TFLite's
    AffineQuantize of f(scale * (q - zero_point)) computed in float32."""
    _check_zero_points("LOOKUP", input_zero_point, output_zero_point)
    real = (_f32(input_scale) * (CODES - input_zero_point).astype(np.float32)).astype(np.float32)
    values = np.asarray(function(real), np.float32)
    quotient = (values / _f32(output_scale)).astype(np.float32)
    quotient = np.clip(np.nan_to_num(quotient), -1024, 1024)
    rounded = np.sign(quotient) * np.floor(np.abs(quotient) + np.float32(0.5))
    return _by_uint8(rounded.astype(np.int64) + output_zero_point)


# ---------------------------------------------------------------- the record


def prepare_table(source: str, size: int, table, inputs=(0,), output=1) -> Layer:
    """A LOOKUP layer over `size` int8 values; `table` is indexed by the uint8 bit pattern."""
    table = np.asarray(table, np.int8)
    if table.shape != (256,):
        raise ValueError(f"a lookup table needs 256 entries, got shape {table.shape}")
    params = {"size": int(size), "source": SOURCES.index(source)}
    return Layer("LOOKUP", params, {"table": table}, tuple(inputs), output)


def check(where, layer, in_shapes, out_shape):
    lookup.check(where, layer, in_shapes, out_shape)
    source = layer.params["source"]
    require(0 <= source <= MAX_SOURCE, f"{where}: source {source} is outside 0..{MAX_SOURCE}")


OPERATORS = (
    Operator(
        "LOOKUP",
        20,
        ("size", "source"),
        check,
        lookup.evaluate,
        output_shape=lambda layer: (layer.params["size"],),
        family="lut",
        tensors=(("table", "int8"),),
    ),
)
