"""int8 CONV_2D and DEPTHWISE_CONV_2D (TFLM integer_ops/conv.h, depthwise_conv.h).

acc[o] = bias[o] + sum over in-image taps of W[o, ky, kx, i] * (x[y, x, i] - input_zero_point);
taps outside the image are skipped, which is why the bias is stored unfolded.
"""

import numpy as np

from micronn.model import Layer
from micronn.ops.checks import (
    WEIGHT_LIMITS,
    check_requantization,
    check_spatial_io,
    check_window,
    requantization_bound,
    require,
)
from micronn.ops.operator import CLAMP, REQUANT_TENSORS, Operator
from micronn.ops.requant import clamp_range, convolution_multipliers, requantize_clamp
from micronn.ops.window import PADDINGS, effective_size, geometry, in_chunks, windows


def _patches(layer, x):
    """Windows of x - input_zero_point: [batch, OH, OW, KH, KW, C], out-of-image taps 0."""
    p = layer.params
    centred = x.reshape(x.shape[0], p["in_height"], p["in_width"], p["in_channels"])
    centred = centred.astype(np.int64) - p["input_zero_point"]
    gathered, _ = windows(
        centred,
        0,
        (p["out_height"], p["out_width"]),
        (p["stride_height"], p["stride_width"]),
        (p["pad_top"], p["pad_left"]),
        (p["kernel_height"], p["kernel_width"]),
        (p["dilation_height"], p["dilation_width"]),
    )
    return gathered


def _chunked(layer, x, accumulate, out_shape):
    p = layer.params

    def evaluate(chunk):
        acc = accumulate(_patches(layer, chunk)) + layer.bias.astype(np.int64)
        return requantize_clamp(acc, layer)

    out_hw = (p["out_height"], p["out_width"])
    kernel_hw = (p["kernel_height"], p["kernel_width"])
    out = in_chunks(evaluate, x, out_hw, kernel_hw, p["in_channels"])
    return out.reshape(x.shape[0], *out_shape)


def evaluate_conv2d(layer, inputs, out_shape):
    weights = np.asarray(layer.weights, np.int64)  # [OC, KH, KW, C]

    def accumulate(patches):
        return np.tensordot(patches, weights, axes=([3, 4, 5], [1, 2, 3]))

    return _chunked(layer, inputs[0], accumulate, out_shape)


def evaluate_depthwise(layer, inputs, out_shape):
    p = layer.params
    kernel = (p["kernel_height"], p["kernel_width"], p["in_channels"], p["depth_multiplier"])
    weights = np.asarray(layer.weights, np.int64).reshape(kernel)  # channel o = c * M + m

    def accumulate(patches):
        acc = np.einsum("bhwijc,ijcm->bhwcm", patches, weights)
        return acc.reshape(*acc.shape[:3], p["out_channels"])

    return _chunked(layer, inputs[0], accumulate, out_shape)


def _window_params(input_shape, kernel_hw, stride, dilation, padding) -> dict:
    """Geometry params from SAME/VALID, or from explicit (top, bottom, left, right) padding."""
    height, width, channels = (int(d) for d in input_shape)
    stride = (int(stride[0]), int(stride[1]))
    dilation = (int(dilation[0]), int(dilation[1]))
    if isinstance(padding, str):
        if padding.lower() not in PADDINGS:
            raise ValueError(f"padding must be 'same', 'valid' or 4 ints, got {padding!r}")
        spots = geometry((height, width), kernel_hw, stride, dilation, padding.lower())
    else:
        top, bottom, left, right = (int(v) for v in padding)
        if min(top, bottom, left, right) < 0:
            raise ValueError(f"explicit padding must be >= 0, got {padding}")
        eff = [effective_size(k, d) for k, d in zip(kernel_hw, dilation, strict=True)]
        spots = {
            "out_height": (height + top + bottom - eff[0]) // stride[0] + 1,
            "out_width": (width + left + right - eff[1]) // stride[1] + 1,
            "pad_top": top,
            "pad_left": left,
        }
        if min(spots["out_height"], spots["out_width"]) < 1:
            raise ValueError(f"a {eff[0]}x{eff[1]} window does not fit the padded input")
    return {
        "in_height": height,
        "in_width": width,
        "in_channels": channels,
        "out_height": spots["out_height"],
        "out_width": spots["out_width"],
        "kernel_height": int(kernel_hw[0]),
        "kernel_width": int(kernel_hw[1]),
        "stride_height": stride[0],
        "stride_width": stride[1],
        "dilation_height": dilation[0],
        "dilation_width": dilation[1],
        "pad_top": spots["pad_top"],
        "pad_left": spots["pad_left"],
    }


def _requant_tensors(weights, weight_scales, bias, channels, input_scale, output_scale):
    multiplier, shift = convolution_multipliers(input_scale, weight_scales, output_scale)
    if multiplier.size not in (1, channels):
        raise ValueError(f"need 1 or {channels} weight scales, got {multiplier.size}")
    bias = np.zeros(channels, np.int32) if bias is None else np.asarray(bias).reshape(-1)
    if bias.shape != (channels,):
        raise ValueError(f"bias must have {channels} entries, got {bias.size}")
    if np.any(bias < -(2**31)) or np.any(bias >= 2**31):
        raise ValueError("bias values must fit int32")
    return {
        "weights": np.asarray(weights).astype(np.int8),
        "bias": bias.astype(np.int32),
        "multiplier": multiplier,
        "shift": shift,
    }


def _conv_layer(
    op,
    weights,
    weight_scales,
    bias,
    kernel_hw,
    channel_params: dict,
    *,
    input_shape,
    input_scale,
    input_zero_point,
    output_scale,
    output_zero_point,
    stride=(1, 1),
    dilation=(1, 1),
    padding="valid",
    activation="none",
    weight_bits=8,
) -> Layer:
    """The layer both convolutions build; channel_params: out_channels (and depth_multiplier)."""
    params = _window_params(input_shape, kernel_hw, stride, dilation, padding) | channel_params
    act_min, act_max = clamp_range(activation, output_scale, output_zero_point)
    out_channels = channel_params["out_channels"]
    params |= {
        "input_zero_point": int(input_zero_point),
        "output_zero_point": int(output_zero_point),
        "act_min": act_min,
        "act_max": act_max,
    }
    tensors = _requant_tensors(
        weights, weight_scales, bias, out_channels, input_scale, output_scale
    )
    return Layer(op, params, tensors, activation=activation, weight_bits=weight_bits)


def prepare_conv2d(weights, weight_scales, bias, *, input_shape, **options) -> Layer:
    """A CONV_2D layer from int weights [out, kh, kw, in] (zero point 0), their float scales
    (1 or out), an int32 bias (scale input_scale * weight_scale) or None, input_shape (H, W, C)
    and keyword options: input_scale, input_zero_point, output_scale, output_zero_point, and
    optionally stride, dilation, padding ('same', 'valid' or (top, bottom, left, right);
    default 'valid'), activation and weight_bits."""
    weights = np.asarray(weights)
    if weights.ndim != 4 or weights.shape[3] != int(input_shape[2]):
        raise ValueError(
            f"conv weights must be [out, kh, kw, {input_shape[2]}] for input {tuple(input_shape)}, "
            f"got shape {weights.shape}"
        )
    channel_params = {"out_channels": weights.shape[0]}
    return _conv_layer(
        "CONV_2D",
        weights,
        weight_scales,
        bias,
        weights.shape[1:3],
        channel_params,
        input_shape=input_shape,
        **options,
    )


def prepare_depthwise_conv2d(weights, weight_scales, bias, *, input_shape, **options) -> Layer:
    """A DEPTHWISE_CONV_2D layer from int weights [kh, kw, out] (out = in x depth multiplier,
    channel o reads input channel o // multiplier); other arguments as prepare_conv2d."""
    weights = np.asarray(weights)
    channels = int(input_shape[2])
    if weights.ndim != 3 or weights.shape[2] % channels:
        raise ValueError(
            f"depthwise weights must be [kh, kw, {channels} x multiplier] for input "
            f"{tuple(input_shape)}, got shape {weights.shape}"
        )
    out_channels = weights.shape[2]
    channel_params = {"out_channels": out_channels, "depth_multiplier": out_channels // channels}
    return _conv_layer(
        "DEPTHWISE_CONV_2D",
        weights,
        weight_scales,
        bias,
        weights.shape[:2],
        channel_params,
        input_shape=input_shape,
        **options,
    )


def check(where, layer, in_shapes, out_shape):
    p = layer.params
    channels = p["in_channels"]
    require(channels >= 1 and p["out_channels"] >= 1, f"{where}: channels must be >= 1")
    in_size = p["in_height"] * p["in_width"] * channels
    out_size = p["out_height"] * p["out_width"] * p["out_channels"]
    check_spatial_io(where, in_shapes, out_shape, in_size, out_size)
    if layer.op == "DEPTHWISE_CONV_2D":
        require(
            p["depth_multiplier"] >= 1 and p["out_channels"] == channels * p["depth_multiplier"],
            f"{where}: out_channels must be in_channels x depth_multiplier",
        )
    kernel = (p["kernel_height"], p["kernel_width"], p["dilation_height"], p["dilation_width"])
    check_window(where, p, *kernel)
    check_requantization(where, layer, p["out_channels"])


def _taps(p) -> int:
    return p["kernel_height"] * p["kernel_width"]


def _output_shape(layer) -> tuple:
    p = layer.params
    return (p["out_height"], p["out_width"], p["out_channels"])


# each term is w * (x - input_zero_point), |x - zp| <= 255
def _conv_bound(layer):
    reach = _taps(layer.params) * layer.params["in_channels"] * 255
    return requantization_bound(layer, reach * WEIGHT_LIMITS[layer.weight_bits])


def _depthwise_bound(layer):
    return requantization_bound(layer, _taps(layer.params) * 255 * WEIGHT_LIMITS[layer.weight_bits])


GEOMETRY = (
    "in_height",
    "in_width",
    "in_channels",
    "out_height",
    "out_width",
    "out_channels",
    "kernel_height",
    "kernel_width",
    "stride_height",
    "stride_width",
    "dilation_height",
    "dilation_width",
    "pad_top",
    "pad_left",
)
ZERO_POINTS = ("input_zero_point", "output_zero_point")

OPERATORS = (
    Operator(
        "CONV_2D",
        2,
        (*GEOMETRY, *ZERO_POINTS, *CLAMP),
        check,
        evaluate_conv2d,
        _output_shape,
        family="conv",
        tensors=REQUANT_TENSORS,
        accumulator_bound=_conv_bound,
        weight_shape=lambda p: (
            p["out_channels"],
            p["kernel_height"],
            p["kernel_width"],
            p["in_channels"],
        ),
    ),
    Operator(
        "DEPTHWISE_CONV_2D",
        3,
        (*GEOMETRY, "depth_multiplier", *ZERO_POINTS, *CLAMP),
        check,
        evaluate_depthwise,
        _output_shape,
        family="conv",
        tensors=REQUANT_TENSORS,
        accumulator_bound=_depthwise_bound,
        weight_shape=lambda p: (p["kernel_height"], p["kernel_width"], p["out_channels"]),
    ),
)
