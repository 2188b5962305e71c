"""int8 REQUANTIZE (a TFLite QUANTIZE from int8 to int8 with other parameters) as a 256-entry
lookup table, bit-exact with TFLM (micro/kernels/quantize_common.cc: (m, shift) =
QuantizeMultiplier(double(s_in) / double(s_out)); reference_ops::Requantize):

    out = clamp(MBQM(q - input_zero_point, m, shift) + output_zero_point, -128, 127)

An int8 input has 256 codes, so the host evaluates that once per code and the board looks the
answer up: the record is LOGISTIC's (a size and the table) and runs with the lut kernels; no
intermediate exists on the board, whatever the scales.
"""

import numpy as np

from micronn.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier
from micronn.model import Layer
from micronn.ops.lookup import CODES, UINT8_ORDER, check, evaluate
from micronn.ops.operator import Operator


def requantize_table(input: tuple, output: tuple) -> np.ndarray:
    """TFLM's int8 output for every input code, indexed by the code's uint8 bit pattern."""
    (s_in, zp_in), (s_out, zp_out) = input, output
    multiplier, shift = quantize_multiplier(float(np.float32(s_in)) / float(np.float32(s_out)))
    values = multiply_by_quantized_multiplier(CODES - int(zp_in), multiplier, shift) + zp_out
    return np.clip(values, -128, 127).astype(np.int8)[UINT8_ORDER]


def prepare_requantize(size: int, input: tuple, output: tuple, inputs=(0,), output_tensor=1):
    """A REQUANTIZE layer over `size` values; input, output: (scale, zero_point)."""
    for name, (scale, zero_point) in (("input", input), ("output", output)):
        if not -128 <= zero_point <= 127:
            raise ValueError(f"QUANTIZE {name} zero point {zero_point} is outside -128..127")
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"QUANTIZE {name} scale must be finite and > 0, got {scale}")
    table = requantize_table(input, output)
    return Layer("REQUANTIZE", {"size": int(size)}, {"table": table}, tuple(inputs), output_tensor)


OPERATORS = (
    Operator(
        "REQUANTIZE",
        18,
        ("size",),
        check,
        evaluate,
        output_shape=lambda layer: (layer.params["size"],),
        family="lut",
        tensors=(("table", "int8"),),
    ),
)
