"""Weight quantization for post-training quantization of float graphs.

int8 weights follow TFLite's converter: scale = max |w| / 127 per output channel. int4 and
int2 weights have so few levels that clipping the largest weights a little lowers the total
error: their scale is searched per channel to minimise the squared rounding error. With
calibration data, each channel's bias then absorbs the mean error the rounded weights cause
(empirical bias correction), so the layer's average output stays where the float one was.
"""

import numpy as np

from micronn import tflite_int8
from micronn.graph import Node, run_node

SEARCH_RATIOS = np.linspace(0.3, 1.0, 71)


def quantize_rows(rows, bits: int, per_channel: bool, min_scales) -> tuple:
    """rows [channels, fan_in] -> (int8 codes, float32 scales [channels] or [1])."""
    if bits == 8:
        return tflite_int8.quantize_weights(rows, bits, per_channel, min_scales)
    rows = np.asarray(rows, np.float32)
    limit = tflite_int8.WEIGHT_LIMIT[bits]
    groups = rows if per_channel else rows.reshape(1, -1)
    floor = np.asarray(min_scales, np.float32)
    floor = floor if per_channel else floor.max(keepdims=True)
    peak = np.abs(groups).max(axis=1)
    best = np.zeros(len(groups), np.float32)
    best_error = np.full(len(groups), np.inf)
    for ratio in SEARCH_RATIOS:
        scale = np.where(peak > 0, peak * np.float32(ratio) / limit, 1).astype(np.float32)
        scale = np.maximum(scale, floor)
        codes = np.clip(tflite_int8.round_half_away(groups / scale[:, None]), -limit, limit)
        error = ((groups - codes * scale[:, None]) ** 2).sum(axis=1)
        better = error < best_error
        best[better], best_error[better] = scale[better], error[better]
    per_row = best[:, None] if per_channel else best
    codes = np.clip(tflite_int8.round_half_away(rows / per_row), -limit, limit)
    return codes.astype(np.int8), best


def corrected_bias(node: Node, dequantized: np.ndarray, samples) -> np.ndarray:
    """node.bias plus the mean of (W - W_quantized) x over calibration inputs, per channel."""
    if samples is None:
        return node.bias
    error = Node(node.op, node.inputs, node.output, node.name, node.weight - dequantized,
                 np.zeros_like(node.bias), "none", node.attrs)  # fmt: skip
    shift = run_node(error, [samples]).reshape(-1, node.bias.size).mean(axis=0)
    return (node.bias.astype(np.float64) + shift).astype(np.float32)
