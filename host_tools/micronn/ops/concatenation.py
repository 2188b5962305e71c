"""CONCATENATION of two int8 tensors along any axis, bit-exact with TFLM's int8 kernel
(micro/kernels/concatenation.cc): TFLM's Prepare requires every input to have the output's scale
and zero point ("no re-scaling needed for Int8"), so the kernel copies codes. More inputs are
a chain of two-input records.

The record sees both inputs as [outer, inner]: outer is the product of the dims before the
axis, inner_k the product of input k's dims from the axis on; each output row is a row of
input 1 followed by a row of input 2.
"""

import numpy as np

from micronn.model import Layer
from micronn.ops.checks import require, size
from micronn.ops.operator import Operator


def concatenation_geometry(shape1, shape2, axis: int) -> dict:
    """outer, inner1, inner2 of shape1 ++ shape2 along axis (negative counts from the end);
    ValueError when the shapes differ elsewhere than on the axis."""
    shape1, shape2 = tuple(int(d) for d in shape1), tuple(int(d) for d in shape2)
    rank = len(shape1)
    if len(shape2) != rank:
        raise ValueError(f"cannot concatenate shapes {shape1} and {shape2} of different ranks")
    if not -rank <= axis < rank:
        raise ValueError(f"axis {axis} is outside a {rank}-D shape")
    axis %= rank
    if shape1[:axis] + shape1[axis + 1 :] != shape2[:axis] + shape2[axis + 1 :]:
        raise ValueError(f"shapes {shape1} and {shape2} differ off the axis {axis}")
    return {
        "outer": size(shape1[:axis]),
        "inner1": size(shape1[axis:]),
        "inner2": size(shape2[axis:]),
    }


def concatenated_shape(shape1, shape2, axis: int) -> tuple:
    axis %= len(shape1)
    return (*shape1[:axis], int(shape1[axis]) + int(shape2[axis]), *shape1[axis + 1 :])


def prepare_concatenation(shape1, shape2, axis: int, inputs=(0, 1), output_tensor=2) -> Layer:
    """A CONCATENATION layer of tensors shaped shape1 and shape2 along `axis`."""
    params = concatenation_geometry(shape1, shape2, axis)
    return Layer("CONCATENATION", params, {}, tuple(inputs), output_tensor)


def evaluate(layer, inputs, out_shape):
    p = layer.params
    a, b = (np.asarray(x, np.int8) for x in inputs)
    batch = max(a.shape[0], b.shape[0])  # a CONSTANT operand comes as one sample
    rows = (
        np.broadcast_to(a.reshape(-1, p["outer"], p["inner1"]), (batch, p["outer"], p["inner1"])),
        np.broadcast_to(b.reshape(-1, p["outer"], p["inner2"]), (batch, p["outer"], p["inner2"])),
    )
    return np.concatenate(rows, axis=2).reshape(batch, *out_shape)


def check(where, layer, in_shapes, out_shape):
    p = layer.params
    outer, inner1, inner2 = p["outer"], p["inner1"], p["inner2"]
    require(outer >= 1 and inner1 >= 1 and inner2 >= 1, f"{where}: outer and inners must be >= 1")
    require(size(in_shapes[0]) == outer * inner1, f"{where}: input 1 is not outer x inner1")
    require(size(in_shapes[1]) == outer * inner2, f"{where}: input 2 is not outer x inner2")
    require(
        size(out_shape) == outer * (inner1 + inner2),
        f"{where}: the output is not outer x (inner1 + inner2)",
    )


def output_shape(layer) -> tuple:
    p = layer.params
    return (p["outer"] * (p["inner1"] + p["inner2"]),)


OPERATORS = (
    Operator(
        "CONCATENATION",
        30,
        ("outer", "inner1", "inner2"),
        check,
        evaluate,
        output_shape,
        family="shape",
        inputs=2,
    ),
)
