"""int8 MAX_POOL_2D and AVERAGE_POOL_2D (TFLM reference_integer_ops MaxPool, AveragePool).

Both work on the raw codes: input and output share scale and zero point. Only in-image taps
count. The average rounds half away from zero: (sum ± count // 2) / count, truncated.
"""

import numpy as np

from micronn.model import Layer
from micronn.ops.checks import check_spatial_io, check_window, require
from micronn.ops.operator import CLAMP, Operator
from micronn.ops.requant import clamp_range
from micronn.ops.window import geometry, in_chunks, windows

INT8_MIN = -128


def _windows(layer, x, fill):
    p = layer.params
    image = x.reshape(x.shape[0], p["in_height"], p["in_width"], p["channels"])
    return windows(
        image.astype(np.int64),
        fill,
        (p["out_height"], p["out_width"]),
        (p["stride_height"], p["stride_width"]),
        (p["pad_top"], p["pad_left"]),
        (p["filter_height"], p["filter_width"]),
        (1, 1),
    )


def _pooled(layer, x, pool, out_shape):
    p = layer.params

    def evaluate(chunk):
        return np.clip(pool(chunk), layer.act_min, layer.act_max).astype(np.int8)

    out_hw = (p["out_height"], p["out_width"])
    kernel_hw = (p["filter_height"], p["filter_width"])
    out = in_chunks(evaluate, x, out_hw, kernel_hw, p["channels"])
    return out.reshape(x.shape[0], *out_shape)


def evaluate_max(layer, inputs, out_shape):
    def pool(x):
        gathered, _ = _windows(layer, x, INT8_MIN)
        return gathered.max(axis=(3, 4))

    return _pooled(layer, inputs[0], pool, out_shape)


def evaluate_average(layer, inputs, out_shape):
    def pool(x):
        gathered, inside = _windows(layer, x, 0)
        total = gathered.sum(axis=(3, 4))
        count = inside.sum(axis=(2, 3)).astype(np.int64)[None, :, :, None]
        magnitude = (np.abs(total) + count // 2) // count  # C's truncating division
        return np.where(total > 0, magnitude, -magnitude)

    return _pooled(layer, inputs[0], pool, out_shape)


def prepare_pool(
    op,
    *,
    input_shape,
    filter_size,
    stride,
    padding,
    scale,
    zero_point,
    activation="none",
) -> Layer:
    """A MAX_POOL_2D or AVERAGE_POOL_2D layer over an (H, W, C) input; `scale` and
    `zero_point` are the input's, which the output must share."""
    if op not in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        raise ValueError(f"op must be MAX_POOL_2D or AVERAGE_POOL_2D, got {op!r}")
    height, width, channels = (int(d) for d in input_shape)
    filter_hw = (int(filter_size[0]), int(filter_size[1]))
    stride = (int(stride[0]), int(stride[1]))
    spots = geometry((height, width), filter_hw, stride, (1, 1), str(padding).lower())
    act_min, act_max = clamp_range(activation, scale, zero_point)
    params = {
        "in_height": height,
        "in_width": width,
        "channels": channels,
        "out_height": spots["out_height"],
        "out_width": spots["out_width"],
        "filter_height": filter_hw[0],
        "filter_width": filter_hw[1],
        "stride_height": stride[0],
        "stride_width": stride[1],
        "pad_top": spots["pad_top"],
        "pad_left": spots["pad_left"],
        "act_min": act_min,
        "act_max": act_max,
    }
    return Layer(op, params, {}, activation=activation)


def check(where, layer, in_shapes, out_shape):
    p = layer.params
    require(p["channels"] >= 1, f"{where}: channels must be >= 1")
    in_size = p["in_height"] * p["in_width"] * p["channels"]
    out_size = p["out_height"] * p["out_width"] * p["channels"]
    check_spatial_io(where, in_shapes, out_shape, in_size, out_size)
    check_window(where, p, p["filter_height"], p["filter_width"])
    # an average needs a tap: every pooling window must start before the input ends
    require(
        (p["out_height"] - 1) * p["stride_height"] - p["pad_top"] < p["in_height"]
        and (p["out_width"] - 1) * p["stride_width"] - p["pad_left"] < p["in_width"],
        f"{where}: the last window starts past the end of the input (output too large)",
    )
    require(p["filter_height"] * p["filter_width"] < 2**22, f"{where}: window too large")


def _output_shape(layer) -> tuple:
    p = layer.params
    return (p["out_height"], p["out_width"], p["channels"])


GEOMETRY = (
    "in_height",
    "in_width",
    "channels",
    "out_height",
    "out_width",
    "filter_height",
    "filter_width",
    "stride_height",
    "stride_width",
    "pad_top",
    "pad_left",
)

OPERATORS = tuple(
    Operator(name, code, (*GEOMETRY, *CLAMP), check, evaluate, _output_shape, family="pool")
    for name, code, evaluate in (
        ("MAX_POOL_2D", 4, evaluate_max),
        ("AVERAGE_POOL_2D", 5, evaluate_average),
    )
)
