"""Dead channels: all-zero weights under a bias too large for the boards' 31-bit integers.

Such a channel's accumulator is its bias for every input, so TFLM writes one constant:
clamp(MBQM(bias, m, s) + output_zero_point, act_min, act_max). The host computes it and
stores the channel as bias' = constant - output_zero_point with m = 2^30, s = 1, the pair
MBQM maps every |x| < 2^30 to itself by: the same output, exactly, with an accumulator in bound.
A per-tensor multiplier becomes per-channel to give that channel its own pair.
Only channels over the bound change, so every other model keeps its bytes.
"""

import numpy as np

from micronn.fixedpoint import multiply_by_quantized_multiplier
from micronn.model import SMALL_INT_LIMIT, Layer

IDENTITY_MULTIPLIER, IDENTITY_SHIFT = 2**30, 1
# the axis of the output channel in each layer's weights
CHANNEL_AXIS = {"FULLY_CONNECTED": 0, "CONV_2D": 0, "DEPTHWISE_CONV_2D": 2}


def dead_channels(layer: Layer) -> np.ndarray:
    """Indices of the channels whose weights are all zero and whose bound is >= 2^30."""
    weights = np.moveaxis(np.asarray(layer.weights), CHANNEL_AXIS[layer.op], 0)
    zero = ~weights.reshape(weights.shape[0], -1).any(axis=1)
    return np.flatnonzero(zero & (layer.accumulator_bounds() >= SMALL_INT_LIMIT))


def constant_outputs(layer: Layer, channels: np.ndarray) -> np.ndarray:
    """What TFLM writes for `channels` when their accumulator is their bias."""
    count = layer.bias.size
    multiplier = np.broadcast_to(layer.multiplier, (count,))[channels]
    shift = np.broadcast_to(layer.shift, (count,))[channels]
    scaled = multiply_by_quantized_multiplier(layer.bias[channels], multiplier, shift)
    p = layer.params
    return np.clip(scaled + p["output_zero_point"], p["act_min"], p["act_max"])


def fold_dead_channels(layer: Layer) -> Layer:
    """The layer with its dead channels (see dead_channels) stored in bound; unchanged when
    it has none."""
    channels = dead_channels(layer)
    if channels.size == 0:
        return layer
    count = layer.bias.size
    bias = layer.bias.astype(np.int64)
    bias[channels] = constant_outputs(layer, channels) - layer.params["output_zero_point"]
    multiplier = np.array(np.broadcast_to(layer.multiplier, (count,)), np.int32)
    shift = np.array(np.broadcast_to(layer.shift, (count,)), np.int32)
    multiplier[channels], shift[channels] = IDENTITY_MULTIPLIER, IDENTITY_SHIFT
    tensors = layer.tensors | {"bias": bias.astype(np.int32), "multiplier": multiplier}
    return Layer(
        layer.op,
        dict(layer.params),
        tensors | {"shift": shift},
        layer.inputs,
        layer.output,
        layer.activation,
        layer.weight_bits,
    )
