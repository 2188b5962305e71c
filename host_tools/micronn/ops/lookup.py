"""int8 LOGISTIC and TANH as 256-entry lookup tables built with TFLM's fixed-point algorithm.

TensorFlow Lite Micro computes these per element (reference/integer_ops/logistic.h, tanh.h;
parameters from micro/kernels/logistic_common.cc and tanh.cc): rescale q - zero_point to Q4.27
with MultiplyByQuantizedMultiplier, apply gemmlowp's logistic or tanh, round to the output. An
int8 input has only 256 codes, so the host runs that algorithm once per code and the board (and
this reference) only looks the answer up: out = table[q & 0xFF].
"""

import math

import numpy as np

from micronn import gemmlowp
from micronn.fixedpoint import multiply_by_quantized_multiplier, rounding_divide_by_pot
from micronn.model import Layer
from micronn.ops.checks import require
from micronn.ops.checks import size as _size
from micronn.ops.operator import Operator

INPUT_INTEGER_BITS = 4
# The output parameters TFLite's int8 kernels produce (quantization_spec.md, "Fixed output").
OUTPUT_PARAMS = {"LOGISTIC": (1.0 / 256, -128), "TANH": (1.0 / 128, 0)}
CODES = np.arange(-128, 128, dtype=np.int64)
UINT8_ORDER = np.argsort(CODES & 0xFF)  # table index is the code's uint8 bit pattern


def input_rescaling(input_scale: float) -> tuple[int, int, int]:
    """(input_multiplier, input_left_shift, input_range_radius) as TFLM's Prepare computes them."""
    real = float(np.float32(input_scale)) * float(1 << (31 - INPUT_INTEGER_BITS))
    if not math.isfinite(real) or real <= 0:
        raise ValueError(f"input scale must be finite and > 0, got {input_scale!r}")
    fraction, left_shift = math.frexp(real)
    if left_shift < 1:
        raise ValueError(
            f"input scale {input_scale!r} is below 2^-28, too small for TFLM's int8 "
            "LOGISTIC/TANH; re-quantize the layer before it with a wider range"
        )
    multiplier = int(round(fraction * 2**31))  # exact: a float32 scale has 24 significant bits
    radius = math.floor(
        float((1 << INPUT_INTEGER_BITS) - 1)
        * float(1 << (31 - INPUT_INTEGER_BITS))
        / 2.0**left_shift
    )
    return multiplier, left_shift, radius


def _check_output(op: str, output_scale: float, output_zero_point: int) -> None:
    scale, zero_point = OUTPUT_PARAMS[op]
    if np.float32(output_scale) != np.float32(scale) or output_zero_point != zero_point:
        raise ValueError(
            f"int8 {op} needs output scale {scale} and zero point {zero_point} (TFLite's fixed "
            f"output parameters), got {output_scale!r} and {output_zero_point!r}; re-convert the "
            "model with the TFLite int8 converter or use these output parameters"
        )


def lookup_table(op: str, input_scale: float, input_zero_point: int) -> np.ndarray:
    """TFLM's int8 output for every input code, indexed by the code's uint8 bit pattern."""
    multiplier, left_shift, radius = input_rescaling(input_scale)
    diff = CODES - int(input_zero_point)
    inside = (diff > -radius) & (diff < radius)
    x_q4 = multiply_by_quantized_multiplier(np.where(inside, diff, 0), multiplier, left_shift)
    if op == "LOGISTIC":
        y_q0 = gemmlowp.logistic(x_q4, INPUT_INTEGER_BITS)
        values = rounding_divide_by_pot(y_q0, 31 - 8) - 128
    elif op == "TANH":
        y_q0 = gemmlowp.tanh(x_q4, INPUT_INTEGER_BITS)
        values = rounding_divide_by_pot(y_q0, 31 - 7)
    else:
        raise ValueError(f"no lookup table for operator {op!r}")
    values = np.where(diff <= -radius, -128, np.where(diff >= radius, 127, values))
    return np.clip(values, -128, 127).astype(np.int8)[UINT8_ORDER]


def prepare_lookup(
    op: str,
    size: int,
    input_scale: float,
    input_zero_point: int,
    output_scale: float,
    output_zero_point: int,
    inputs=(0,),
    output=1,
) -> Layer:
    """A LOGISTIC or TANH layer over `size` int8 values (TFLM's Prepare, then the table)."""
    _check_output(op, output_scale, output_zero_point)
    if not -128 <= input_zero_point <= 127:
        raise ValueError(f"{op} input zero point {input_zero_point} is outside -128..127")
    table = lookup_table(op, input_scale, input_zero_point)
    return Layer(op, {"size": int(size)}, {"table": table}, tuple(inputs), output)


def evaluate(layer, inputs, out_shape):
    x = inputs[0]
    codes = np.asarray(x).astype(np.int64) & 0xFF
    return np.asarray(layer.table, np.int8)[codes].reshape(x.shape[0], *out_shape)


def check(where, layer, in_shapes, out_shape):
    size = layer.params["size"]
    require(_size(in_shapes[0]) == size == _size(out_shape), f"{where}: size mismatch")
    require(layer.table.shape == (256,), f"{where}: the lookup table needs 256 entries")


OPERATORS = tuple(
    Operator(
        name,
        code,
        ("size",),
        check,
        evaluate,
        output_shape=lambda layer: (layer.params["size"],),
        family="lut",
        tensors=(("table", "int8"),),
    )
    for name, code in (("LOGISTIC", 8), ("TANH", 9))
)
