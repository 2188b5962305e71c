"""A uint8 model input (or output) behind a QUANTIZE that only moves the zero point by 128.

TFLM's QUANTIZE uint8 -> int8 (and int8 -> uint8) is Requantize with the multiplier of
in_scale / out_scale (quantize_common.cc). With equal scales that is QuantizeMultiplier(1.0) =
(2^30, 1), and a zero point difference of 128 takes its fast path, `out = in ^ 0x80`: exactly
int8 = uint8 - 128, nothing rounded, nothing clamped. Such a QUANTIZE is absorbed into the edge:
micronn's edge stays the int8 tensor, and its TensorSpec records source_dtype "uint8".
Any other uint8 QUANTIZE rescales, so it is refused.
"""

from micronn.importers.tflite.context import describe

UINT8_SHIFT = 128


def shift_problem(graph, op, uint8_index, int8_index) -> str | None:
    """Why QUANTIZE `op` between a uint8 and an int8 tensor is not int8 = uint8 - 128."""
    uint8, int8 = graph.tensors[uint8_index], graph.tensors[int8_index]
    if uint8.dtype != "UINT8" or int8.dtype != "INT8":
        return (
            f"converts {graph.tensors[op.inputs[0]].dtype} to {graph.tensors[op.outputs[0]].dtype}"
        )
    if uint8.scale.size != 1 or int8.scale.size != 1:
        return "is not per-tensor"
    if uint8.scale[0] != int8.scale[0]:
        return f"rescales from {uint8.scale[0]:.6g} to {int8.scale[0]:.6g}"
    if int(uint8.zero_point[0]) - UINT8_SHIFT != int(int8.zero_point[0]):
        return (
            f"moves the zero point from {int(uint8.zero_point[0])} (uint8) to "
            f"{int(int8.zero_point[0])} (int8), not by exactly 128"
        )
    return None


def refusal(graph, op, problem: str, where: str) -> ValueError:
    return ValueError(
        f"{graph.name}: the model's uint8 {where} goes through {describe(graph, op)}, which "
        f"{problem}; micronn takes a uint8 edge only as int8 = uint8 - 128 (same scale): "
        "re-export with inference_input_type/inference_output_type tf.int8"
    )
