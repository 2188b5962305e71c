"""int8 FULLY_CONNECTED (TFLM integer_ops/fully_connected.h) with a folded bias."""

import numpy as np

from micronn.fixedpoint import multiply_by_quantized_multiplier
from micronn.ops.checks import WEIGHT_LIMITS, check_requantization, requantization_bound, require
from micronn.ops.checks import size as _size
from micronn.ops.operator import CLAMP, REQUANT_TENSORS, Operator


def evaluate(layer, inputs, out_shape):
    x = inputs[0].reshape(inputs[0].shape[0], -1).astype(np.int64)
    acc = x @ layer.weights.astype(np.int64).T + layer.bias.astype(np.int64)
    scaled = multiply_by_quantized_multiplier(acc, layer.multiplier, layer.shift)
    out = np.clip(scaled + layer.output_zero_point, layer.act_min, layer.act_max)
    return out.astype(np.int8).reshape(x.shape[0], *out_shape)


def check(where, layer, in_shapes, out_shape):
    p = layer.params
    require(p["in_features"] >= 1 and p["out_features"] >= 1, f"{where}: empty layer")
    require(
        _size(in_shapes[0]) == p["in_features"],
        f"{where}: takes {p['in_features']} features but receives {_size(in_shapes[0])}",
    )
    require(_size(out_shape) == p["out_features"], f"{where}: output size mismatch")
    check_requantization(where, layer, p["out_features"])


def accumulator_bound(layer):
    # the bias has the input zero point folded in, so each term is x * w with |x| <= 128
    reach = layer.params["in_features"] * 128 * WEIGHT_LIMITS[layer.weight_bits]
    return requantization_bound(layer, reach)


OPERATORS = (
    Operator(
        "FULLY_CONNECTED",
        1,
        ("in_features", "out_features", "input_zero_point", "output_zero_point", *CLAMP),
        check,
        evaluate,
        output_shape=lambda layer: (layer.params["out_features"],),
        family="dense",
        tensors=REQUANT_TENSORS,
        accumulator_bound=accumulator_bound,
        weight_shape=lambda p: (p["out_features"], p["in_features"]),
    ),
)
