"""PAD (and PADV2) of an int8 tensor on any axes, bit-exact with TFLM's int8 kernel
(micro/kernels/pad.cc, reference_ops::Pad): every output code outside the input is the pad
value (the output zero point, or PADV2's constant, whose quantization TFLM's Prepare requires
to be the output's), every other one is the input's code, copied without requantizing.

The record holds the shape padded to 4 dims (leading 1s), the amounts before and after each
dim, and the value.
"""

import numpy as np

from micronn.model import Layer
from micronn.ops.checks import require, size
from micronn.ops.operator import Operator

RANK = 4
IN_DIMS = tuple(f"in_dim{k}" for k in range(RANK))
BEFORE = tuple(f"pad_before{k}" for k in range(RANK))
AFTER = tuple(f"pad_after{k}" for k in range(RANK))
DIM_LIMIT = 1 << 16


def prepare_pad(shape, paddings, value: int, inputs=(0,), output_tensor=1) -> Layer:
    """A PAD layer of a tensor shaped `shape` (batch included); paddings: [[before, after]]
    per dim, as TFLite's paddings tensor."""
    shape = tuple(int(d) for d in shape)
    paddings = np.asarray(paddings, np.int64).reshape(-1, 2)
    if len(shape) > RANK or paddings.shape[0] != len(shape):
        raise ValueError(f"PAD needs one [before, after] per dim of a tensor of rank <= {RANK}")
    if (paddings < 0).any():
        raise ValueError(f"PAD amounts must be >= 0 (a crop is a slice), got {paddings.tolist()}")
    if not -128 <= value <= 127:
        raise ValueError(f"the pad value {value} is outside -128..127")
    lead = RANK - len(shape)
    dims = (1,) * lead + shape
    amounts = [(0, 0)] * lead + [tuple(int(v) for v in row) for row in paddings]
    params = dict(zip(IN_DIMS, dims, strict=True))
    params |= {BEFORE[k]: amounts[k][0] for k in range(RANK)}
    params |= {AFTER[k]: amounts[k][1] for k in range(RANK)}
    params["value"] = int(value)
    return Layer("PAD", params, {}, tuple(inputs), output_tensor)


def padded_dims(p) -> tuple:
    return tuple(p[IN_DIMS[k]] + p[BEFORE[k]] + p[AFTER[k]] for k in range(RANK))


def evaluate(layer, inputs, out_shape):
    p = layer.params
    x = np.asarray(inputs[0], np.int8)
    x = x.reshape(x.shape[0], *(p[name] for name in IN_DIMS))
    widths = [(0, 0)] + [(p[BEFORE[k]], p[AFTER[k]]) for k in range(RANK)]
    out = np.pad(x, widths, constant_values=p["value"])
    return out.reshape(out.shape[0], *out_shape)


def check(where, layer, in_shapes, out_shape):
    p = layer.params
    require(all(1 <= p[name] < DIM_LIMIT for name in IN_DIMS), f"{where}: dims must be in 1..65535")
    require(
        all(0 <= p[name] < DIM_LIMIT for name in BEFORE + AFTER),
        f"{where}: pad amounts must be in 0..65535",
    )
    require(-128 <= p["value"] <= 127, f"{where}: the pad value is outside -128..127")
    require(
        size(in_shapes[0]) == size([p[name] for name in IN_DIMS]),
        f"{where}: the input tensor size disagrees with the dims",
    )
    require(
        size(out_shape) == size(padded_dims(p)),
        f"{where}: the output tensor size disagrees with the padded dims",
    )


def output_shape(layer) -> tuple:
    return padded_dims(layer.params)


OPERATORS = (
    Operator(
        "PAD",
        31,
        (*IN_DIMS, *BEFORE, *AFTER, "value"),
        check,
        evaluate,
        output_shape,
        family="shape",
    ),
)
