"""int8 FULLY_CONNECTED (TFLM integer_ops/fully_connected.h) with a folded bias."""

import numpy as np

from micronn.fixedpoint import multiply_by_quantized_multiplier


def evaluate(layer, inputs, out_shape):
    x = inputs[0].reshape(inputs[0].shape[0], -1).astype(np.int64)
    acc = x @ layer.weights.astype(np.int64).T + layer.bias.astype(np.int64)
    scaled = multiply_by_quantized_multiplier(acc, layer.multiplier, layer.shift)
    out = np.clip(scaled + layer.output_zero_point, layer.act_min, layer.act_max)
    return out.astype(np.int8).reshape(x.shape[0], *out_shape)
