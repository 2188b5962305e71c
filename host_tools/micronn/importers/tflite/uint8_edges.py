"""A uint8 model input (or output) behind a QUANTIZE that only moves the codes by 128.

TFLM's QUANTIZE uint8 -> int8 (and int8 -> uint8) is Requantize (quantize_common.cc,
reference/requantize.h): out = clamp(MBQM(in - in_zero_point, m, s) + out_zero_point) with
(m, s) = QuantizeMultiplier(in_scale / out_scale), and `out = in ^ 0x80` when (m, s) = (2^30, 1)
and the zero points differ by 128. This module runs that on all 256 codes: when it gives exactly
int8 = uint8 - 128 (equal scales, or scales so close that no code moves), the QUANTIZE is absorbed
into the edge: micronn's edge stays the int8 tensor and its TensorSpec records source_dtype
"uint8". Any other uint8 QUANTIZE rescales the codes, so it is refused.
"""

import numpy as np

from micronn.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier
from micronn.importers.tflite.context import describe

UINT8_SHIFT = 128
LIMITS = {"UINT8": (0, 255), "INT8": (-128, 127)}


def requantize_codes(source, target) -> np.ndarray:
    """TFLM's QUANTIZE from tensor `source` to tensor `target` on every code of source."""
    low, high = LIMITS[source.dtype]
    codes = np.arange(low, high + 1, dtype=np.int64)
    in_zero_point, out_zero_point = int(source.zero_point[0]), int(target.zero_point[0])
    multiplier, shift = quantize_multiplier(float(source.scale[0]) / float(target.scale[0]))
    flip = UINT8_SHIFT if source.dtype == "INT8" else -UINT8_SHIFT  # `in ^ 0x80` as a sum
    if (multiplier, shift) == (2**30, 1) and out_zero_point - in_zero_point == flip:
        return codes + flip
    scaled = multiply_by_quantized_multiplier(codes - in_zero_point, multiplier, shift)
    return np.clip(scaled + out_zero_point, *LIMITS[target.dtype])


def shift_problem(graph, op) -> str | None:
    """Why QUANTIZE `op` between a uint8 and an int8 tensor is not a shift of the codes by 128."""
    source, target = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
    if {source.dtype, target.dtype} != {"UINT8", "INT8"}:
        return f"converts {source.dtype} to {target.dtype}"
    if source.scale.size != 1 or target.scale.size != 1:
        return "is not per-tensor"
    low = LIMITS[source.dtype][0]
    codes = np.arange(low, low + 256)
    shifted = codes - UINT8_SHIFT if source.dtype == "UINT8" else codes + UINT8_SHIFT
    moved = np.flatnonzero(requantize_codes(source, target) != shifted)
    if moved.size == 0:
        return None
    return (
        f"requantizes from scale {_float32(source.scale[0])} zero point "
        f"{int(source.zero_point[0])} to scale {_float32(target.scale[0])} zero point "
        f"{int(target.zero_point[0])} ({moved.size} of the 256 codes do not move by exactly 128)"
    )


def refusal(graph, op, problem: str, where: str) -> ValueError:
    return ValueError(
        f"{graph.name}: the model's uint8 {where} goes through {describe(graph, op)}, which "
        f"{problem}; micronn takes a uint8 edge only as int8 = uint8 - 128: re-export with "
        "inference_input_type/inference_output_type tf.int8"
    )


def _float32(value) -> str:
    return str(np.float32(value))  # the shortest text that names this float32
