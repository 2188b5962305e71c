"""FULLY_CONNECTED: TFLM's int8 Prepare (fully_connected_common.cc) as a micronn layer."""

import numpy as np

from micronn import tflite_int8
from micronn.importers.tflite.dead_channels import fold_dead_channels
from micronn.importers.tflite.graph import register
from micronn.model import FullyConnected

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


@register("FULLY_CONNECTED")
def build_fully_connected(ctx, op):
    if op.options.get("weights_format", 0) != 0:
        raise ctx.error(op, "uses shuffled weights; re-export with the default weights format")
    source, target = op.input(0), op.outputs[0]
    weights = ctx.weights(op, filter_position=1, bias_position=2, axis=0)
    if weights.codes.ndim != 2:
        raise ctx.error(op, f"has weights of shape {list(weights.codes.shape)}; expected 2-D")
    out_features, in_features = weights.codes.shape
    received = int(np.prod(ctx.activation_shape(source)))
    if received != in_features:
        raise ctx.error(
            op,
            f"applies {in_features}-input weights to each row of a {received}-value input; "
            "micronn runs one row per sample: add a Flatten (Reshape) before the Dense layer",
        )
    in_scale, in_zero_point = ctx.quantization(source)
    out_scale, out_zero_point = ctx.quantization(target)
    multiplier, shift = tflite_int8.output_multipliers(in_scale, weights.scales, out_scale)
    row_sums = weights.codes.astype(np.int64).sum(axis=1)
    folded = weights.bias.astype(np.int64) - in_zero_point * row_sums
    if folded.min() < INT32_MIN or folded.max() > INT32_MAX:
        raise ctx.error(op, "has a bias that overflows int32 once the input zero point is folded")
    activation, act_min, act_max = ctx.fused_activation(op)
    layer = FullyConnected(
        weights.codes,
        folded,
        multiplier,
        shift,
        in_zero_point,
        out_zero_point,
        act_min,
        act_max,
        activation,
        weights.bits,
    )
    return ctx.connect(fold_dead_channels(layer), (source,), target)
