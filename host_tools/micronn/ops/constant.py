"""CONSTANT: an int8 tensor of the model (a TFLite constant operand of an element-wise
operator) written into its activation before the layers that read it, so that every
operator reads activations only."""

import numpy as np

from micronn.model import Layer
from micronn.ops.checks import require
from micronn.ops.checks import size as _size
from micronn.ops.operator import Operator


def prepare_constant(values, output=0) -> Layer:
    values = np.asarray(values)
    if values.dtype != np.int8:
        raise ValueError(f"a constant operand must be int8, got {values.dtype}")
    return Layer("CONSTANT", {"size": int(values.size)}, {"values": values.reshape(-1)}, (), output)


def evaluate(layer, inputs, out_shape):
    values = np.asarray(layer.values, np.int8).reshape(1, *out_shape)
    return values


def check(where, layer, in_shapes, out_shape):
    size = layer.params["size"]
    require(size >= 1 and _size(out_shape) == size, f"{where}: size mismatch")
    require(layer.values.shape == (size,), f"{where}: the tensor needs {size} values")


OPERATORS = (
    Operator(
        "CONSTANT",
        12,
        ("size",),
        check,
        evaluate,
        output_shape=lambda layer: (layer.params["size"],),
        family="constant",
        tensors=(("values", "int8"),),
        inputs=0,
    ),
)
