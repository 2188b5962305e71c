"""One float graph node -> one integer Layer, through the op family's prepare helper.

Weights are quantized here (symmetric, per output channel unless told otherwise), with each
channel's scale widened where needed to keep its bias inside the boards' 31-bit integers.
"""

from dataclasses import dataclass

import numpy as np

from micronn import float_ops, tflite_int8, weight_quant
from micronn.graph import UNARY_TABLE_OPS
from micronn.model import SMALL_INT_LIMIT, WEIGHT_LIMITS, FullyConnected, Layer
from micronn.ops import (
    add,
    add_broadcast,
    concatenation,
    constant,
    conv,
    lookup,
    maximum_minimum,
    mean,
    mul,
    pad,
    pooling,
    prelu,
    reduce,
    resize,
    softmax,
    strided,
    sub,
    unary,
)

INPUT_REACH = {"dense": 128, "conv2d": 255, "depthwise_conv2d": 255}


def bias_safe_scales(node, fan_in: int, input_scale: float, bits: int) -> np.ndarray:
    """Smallest weight scale per channel that keeps the quantized bias inside the 31-bit bound.

    A dead neuron (weights near 0, bias not) would otherwise get a tiny weight scale and a
    bias too large for the boards' integers; widening its weight range costs it nothing.
    A dense layer's bias also absorbs input_zero_point x sum(W) (docs/format.md), hence 2x.
    """
    dot = fan_in * INPUT_REACH[node.op] * WEIGHT_LIMITS[bits]
    reach = 2 * dot if node.op == "dense" else dot
    bias_limit = (SMALL_INT_LIMIT - 1 - reach) / 2
    if bias_limit <= 0:
        raise ValueError(
            f"{node.label} sums {fan_in} products per output, too many to keep its accumulator "
            "inside the boards' 31-bit integers; split it into smaller layers"
        )
    return np.abs(node.bias.astype(np.float64)) / (np.float64(input_scale) * bias_limit)


@dataclass
class LayerIO:
    """What a node's quantization needs besides the node: tensor shapes and parameters."""

    in_shapes: list  # integer tensor shapes of the inputs
    in_params: list  # (scale, zero_point) of each input
    out_params: tuple  # (scale, zero_point) of the output
    bits: int  # weight bits
    per_channel: bool
    samples: np.ndarray | None = None  # float calibration values of the first input

    @property
    def in_scale(self) -> float:
        return self.in_params[0][0]


def quantize_channels(node, rows, io: LayerIO, to_weight_layout=None):
    """rows [channels, fan_in] (node.weight rearranged) -> (codes, float32 scales, int32 bias).

    to_weight_layout maps rows back to node.weight's layout (default: a reshape)."""
    floor = bias_safe_scales(node, rows.shape[1], io.in_scale, io.bits)
    codes, scales = weight_quant.quantize_rows(rows, io.bits, io.per_channel, floor)
    bias = node.bias
    if io.bits < 8:
        per_row = scales[:, None] if scales.size > 1 else scales
        restore = to_weight_layout or (lambda r: r.reshape(node.weight.shape))
        dequantized = restore(codes * per_row)
        bias = weight_quant.corrected_bias(node, dequantized, io.samples)
    return codes, scales, tflite_int8.quantize_bias(bias, io.in_scale, scales)


def quantize_node(node, io: LayerIO) -> Layer:
    """The integer Layer for a node."""
    build = BUILDERS.get(node.op)
    if build is None:
        raise ValueError(f"{node.label}: micronn cannot quantize '{node.op}' layers yet")
    return build(node, io)


def _dense(node, io: LayerIO):
    in_zp = io.in_params[0][1]
    out_scale, out_zp = io.out_params
    codes, scales, bias = quantize_channels(node, node.weight, io)
    folded = bias.astype(np.int64) - in_zp * codes.astype(np.int64).sum(axis=1)
    if np.any(np.abs(folded) >= 2**31):
        raise ValueError(f"{node.label}: bias does not fit int32 after quantization")
    multipliers, shifts = tflite_int8.output_multipliers(io.in_scale, scales, out_scale)
    act_min, act_max = tflite_int8.activation_range(node.activation, out_scale, out_zp)
    return FullyConnected(
        weights=codes,
        bias=folded.astype(np.int32),
        multiplier=multipliers.astype(np.int32),
        shift=shifts.astype(np.int32),
        input_zero_point=in_zp,
        output_zero_point=out_zp,
        act_min=act_min,
        act_max=act_max,
        activation=node.activation,
        weight_bits=io.bits,
    )


def _window_args(node, io: LayerIO) -> dict:
    top, left, bottom, right = node.attrs["pads"]
    return {
        "input_shape": io.in_shapes[0],
        "input_scale": io.in_scale,
        "input_zero_point": io.in_params[0][1],
        "output_scale": io.out_params[0],
        "output_zero_point": io.out_params[1],
        "stride": node.attrs["stride"],
        "dilation": node.attrs["dilation"],
        "padding": (top, bottom, left, right),
        "activation": node.activation,
        "weight_bits": io.bits,
    }


def _conv2d(node, io: LayerIO):
    rows = node.weight.reshape(node.weight.shape[0], -1)
    codes, scales, bias = quantize_channels(node, rows, io)
    return conv.prepare_conv2d(
        codes.reshape(node.weight.shape), scales, bias, **_window_args(node, io)
    )


def _depthwise_conv2d(node, io: LayerIO):
    kh, kw, channels = node.weight.shape
    rows = node.weight.reshape(kh * kw, channels).T
    restore = lambda r: r.T.reshape(kh, kw, channels)  # noqa: E731
    codes, scales, bias = quantize_channels(node, rows, io, restore)
    codes = restore(codes)
    return conv.prepare_depthwise_conv2d(codes, scales, bias, **_window_args(node, io))


def _pool(node, io: LayerIO):
    """prepare_pool knows TFLite's SAME/VALID; ONNX pads may be any, so set them after."""
    op = "MAX_POOL_2D" if node.op == "max_pool" else "AVERAGE_POOL_2D"
    layer = pooling.prepare_pool(
        op,
        input_shape=io.in_shapes[0],
        filter_size=node.attrs["size"],
        stride=node.attrs["stride"],
        padding="same",
        scale=io.in_scale,
        zero_point=io.in_params[0][1],
        activation=node.activation,
    )
    top, left, bottom, right = node.attrs["pads"]
    height, width = io.in_shapes[0][:2]
    (size_h, size_w), (stride_h, stride_w) = node.attrs["size"], node.attrs["stride"]
    layer.params |= {
        "out_height": (height + top + bottom - size_h) // stride_h + 1,
        "out_width": (width + left + right - size_w) // stride_w + 1,
        "pad_top": top,
        "pad_left": left,
    }
    return layer


def _mean(node, io: LayerIO):
    return mean.prepare_mean(
        input_shape=io.in_shapes[0],
        input_scale=io.in_scale,
        input_zero_point=io.in_params[0][1],
        output_scale=io.out_params[0],
        output_zero_point=io.out_params[1],
    )


def _resize(node, io: LayerIO):
    a = node.attrs
    prepare = resize.prepare_resize_nearest
    if a["mode"] == "bilinear":
        prepare = resize.prepare_resize_bilinear
    return prepare(io.in_shapes[0], a["size"], a["align_corners"], a["half_pixel_centers"])


def _reduce(node, io: LayerIO):
    shape, axes = io.in_shapes[0], node.attrs["axes"]
    if node.op == "reduce_max":
        return reduce.prepare_reduce_max(shape, axes, io.in_params[0], io.out_params)
    if len(shape) == 3 and set(axes) == {0, 1}:  # every spatial axis: record 6
        return _mean(node, io)
    return reduce.prepare_mean_or_sum("MEAN_AXES", shape, axes, io.in_params[0], io.out_params)


def _add(node, io: LayerIO):
    (scale1, zp1), (scale2, zp2) = io.in_params
    if tuple(io.in_shapes[0]) != tuple(io.in_shapes[1]):
        return add_broadcast.prepare_add_broadcast(
            *io.in_shapes, *io.in_params, io.out_params, node.activation
        )
    size = int(np.prod(io.in_shapes[0]))
    return add.prepare_add(size, scale1, zp1, scale2, zp2, *io.out_params, node.activation)


def _mul(node, io: LayerIO):
    return mul.prepare_mul(*io.in_shapes, *io.in_params, io.out_params, node.activation)


def _sub(node, io: LayerIO):
    return sub.prepare_sub(*io.in_shapes, *io.in_params, io.out_params, node.activation)


def _maximum_minimum(node, io: LayerIO):
    return maximum_minimum.prepare_maximum_minimum(
        node.op.upper(), *io.in_shapes, *io.in_params, io.out_params
    )


def _prelu(node, io: LayerIO):
    return prelu.prepare_prelu(*io.in_shapes, *io.in_params, io.out_params)


def _constant(node, io: LayerIO):
    codes = tflite_int8.affine_quantize(node.weight, *io.out_params)
    return constant.prepare_constant(codes)


def _lookup(node, io: LayerIO):
    size = int(np.prod(io.in_shapes[0]))
    return lookup.prepare_lookup(node.op.upper(), size, *io.in_params[0], *io.out_params)


def _unary_table(node, io: LayerIO):
    """hard_swish, leaky_relu, standalone relu / relu6, clip, Keras ReLU: a LOOKUP layer.
    TFLite's int8 kernels where TFLite has the operator (HARD_SWISH, LEAKY_RELU, RELU), else
    the float function of each code quantized to the output."""
    size = int(np.prod(io.in_shapes[0]))
    quantization = (*io.in_params[0], *io.out_params)
    a = node.attrs
    if node.op == "hard_swish":
        source, table = "HARD_SWISH", unary.hard_swish_table(*quantization)
    elif node.op == "leaky_relu":
        source, table = "LEAKY_RELU", unary.leaky_relu_table(*quantization, a["alpha"])
    elif node.op == "relu":
        source, table = "RELU", unary.relu_table("RELU", *quantization)
    elif node.op == "relu6":
        source = "RELU6"
        table = unary.float_table(lambda x: float_ops.clip(x, 0, 6), *quantization)
    elif node.op == "clip":
        source = "CLIP"
        table = unary.float_table(lambda x: float_ops.clip(x, a["low"], a["high"]), *quantization)
    else:
        source = "KERAS_RELU"
        args = (a["negative_slope"], a["threshold"], a["max_value"])
        table = unary.float_table(lambda x: float_ops.relu_x(x, *args), *quantization)
    return unary.prepare_table(source, size, table)


def _softmax(node, io: LayerIO):
    return softmax.prepare_softmax(io.in_shapes[0], 1.0, io.in_scale, *io.out_params)


def _concat(node, io: LayerIO):
    return concatenation.prepare_concatenation(*io.in_shapes, node.attrs["axis"])


def _transpose(node, io: LayerIO):
    return strided.prepare_transpose(io.in_shapes[0], node.attrs["perm"])


def _pad(node, io: LayerIO):
    """The pad value quantized with the output's parameters (the input's)."""
    scale, zero_point = io.out_params
    code = np.round(np.float32(node.attrs["value"]) / np.float32(scale)) + zero_point
    return pad.prepare_pad(io.in_shapes[0], node.attrs["paddings"], int(np.clip(code, -128, 127)))


def _slice(node, io: LayerIO):
    return strided.prepare_strided_slice(io.in_shapes[0], node.attrs["walk"])


BUILDERS = {
    "dense": _dense,
    "conv2d": _conv2d,
    "depthwise_conv2d": _depthwise_conv2d,
    "max_pool": _pool,
    "avg_pool": _pool,
    "mean": _mean,
    "resize": _resize,
    "reduce_max": _reduce,
    "reduce_mean": _reduce,
    "add": _add,
    "mul": _mul,
    "sub": _sub,
    "maximum": _maximum_minimum,
    "minimum": _maximum_minimum,
    "prelu": _prelu,
    "constant": _constant,
    "logistic": _lookup,
    "tanh": _lookup,
    "softmax": _softmax,
    "concat": _concat,
    "transpose": _transpose,
    "pad": _pad,
    "slice": _slice,
    **dict.fromkeys(UNARY_TABLE_OPS, _unary_table),
}
