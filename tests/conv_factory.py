"""Random CONV_2D, DEPTHWISE_CONV_2D, pool and MEAN layers that respect every container rule."""

import numpy as np

from micronn.model import WEIGHT_LIMITS, Layer, Model, TensorSpec
from micronn.ops.conv import prepare_conv2d, prepare_depthwise_conv2d
from micronn.ops.mean import prepare_mean
from micronn.ops.pooling import prepare_pool

SMALL_INT_LIMIT = 2**30
ACTIVATIONS = ("none", "relu", "relu6")
POOLS = ("MAX_POOL_2D", "AVERAGE_POOL_2D")


def zero_point(rng) -> int:
    return int(rng.choice([-128, 127, 0, int(rng.integers(-128, 128))]))


def _scale(rng, low, high) -> float:
    return float(np.float32(10.0 ** rng.uniform(low, high)))


def _window(rng, in_size):
    """(kernel, stride, dilation) with a VALID window that fits in_size."""
    while True:
        kernel, stride, dilation = (int(v) for v in rng.integers(1, [5, 4, 4]))
        if (kernel - 1) * dilation + 1 <= in_size:
            return kernel, stride, dilation


def _padding(rng):
    if rng.random() < 0.15:
        return tuple(int(v) for v in rng.integers(0, 3, size=4))
    return str(rng.choice(["same", "valid"]))


def random_weights(rng, shape, bits):
    limit = WEIGHT_LIMITS[bits]
    style = rng.integers(3)
    if style == 0:
        return rng.choice([-limit, limit], size=shape).astype(np.int8)
    values = rng.integers(-limit, limit + 1, size=shape)
    if style == 1:
        values[rng.random(shape) < 0.6] = 0
    return values.astype(np.int8)


def _image(rng, input_shape, max_size):
    if input_shape is not None:
        return tuple(int(d) for d in input_shape)
    height, width = (int(v) for v in rng.integers(1, max_size + 1, size=2))
    return height, width, int(rng.integers(1, 5))


def random_conv(rng, depthwise=None, bits=None, max_size=9, input_shape=None):
    """A CONV_2D or DEPTHWISE_CONV_2D prepared from random float scales: (layer, scales)."""
    depthwise = bool(rng.integers(2)) if depthwise is None else depthwise
    bits = int(rng.choice([8, 4, 2])) if bits is None else bits
    while True:
        height, width, channels = _image(rng, input_shape, max_size)
        kh, sh, dh = _window(rng, height)
        kw, sw, dw = _window(rng, width)
        multiplier = int(rng.integers(1, 4))
        out_channels = channels * multiplier if depthwise else int(rng.integers(1, 6))
        shape = (kh, kw, out_channels) if depthwise else (out_channels, kh, kw, channels)
        scales = {
            "input": _scale(rng, -3, -1),
            "output": _scale(rng, -2.5, 0.5),
            "weights": np.array(
                [_scale(rng, -4, -1) for _ in range(out_channels if rng.integers(2) else 1)],
                np.float32,
            ),
        }
        bias = rng.integers(-(2**16), 2**16, size=out_channels)
        bias[rng.random(out_channels) < 0.2] = 0
        prepare = prepare_depthwise_conv2d if depthwise else prepare_conv2d
        try:
            layer = prepare(
                random_weights(rng, shape, bits),
                scales["weights"],
                bias,
                input_shape=(height, width, channels),
                input_scale=scales["input"],
                input_zero_point=zero_point(rng),
                output_scale=scales["output"],
                output_zero_point=zero_point(rng),
                stride=(sh, sw),
                dilation=(dh, dw),
                padding=_padding(rng),
                activation=str(rng.choice(ACTIVATIONS)),
                weight_bits=bits,
            )
        except ValueError:
            continue  # an explicit padding that leaves no window
        p = layer.params
        if p["pad_top"] >= (kh - 1) * dh + 1 or p["pad_left"] >= (kw - 1) * dw + 1:
            continue
        if layer.accumulator_bounds().max() < SMALL_INT_LIMIT:
            return layer, scales


def random_pool(rng, op=None, max_size=9, input_shape=None):
    op = str(rng.choice(POOLS)) if op is None else op
    height, width, channels = _image(rng, input_shape, max_size)
    fh, sh, _ = _window(rng, height)
    fw, sw, _ = _window(rng, width)
    return prepare_pool(
        op,
        input_shape=(height, width, channels),
        filter_size=(fh, fw),
        stride=(sh, sw),
        padding=str(rng.choice(["same", "valid"])),
        scale=_scale(rng, -3, 0),
        zero_point=zero_point(rng),
        activation=str(rng.choice(ACTIVATIONS)),
    )


def random_mean(rng, max_size=12, input_shape=None):
    """(layer, scales) of a MEAN with input/output scales equal, close, or far apart."""
    while True:
        height, width, channels = _image(rng, input_shape, max_size)
        in_scale = _scale(rng, -3, -1)
        ratio = float(rng.choice([1.0, 10.0 ** rng.uniform(-1, 1), 10.0 ** rng.uniform(-4, 2)]))
        out_scale = float(np.float32(in_scale / ratio))
        layer = prepare_mean(
            input_shape=(height, width, channels),
            input_scale=in_scale,
            input_zero_point=zero_point(rng),
            output_scale=out_scale,
            output_zero_point=zero_point(rng),
        )
        if height * width * 255 << max(layer.shift, 0) < SMALL_INT_LIMIT:
            return layer, {"input": in_scale, "output": out_scale}


def bound_conv(rng, depthwise, bits, multiplier):
    """A layer whose accumulators reach exactly +-(2**30 - 1) >> left for all-extreme inputs.

    Every output channel has all-equal weights of +-wmax and a bias filling the remaining room
    for its shift, so input codes of -128 with zero point 127 (or 127 with -128) hit the bound.
    """
    wmax = WEIGHT_LIMITS[bits]
    channels = int(rng.integers(1, 4))
    kh, kw = (int(v) for v in rng.integers(1, 4, size=2))
    taps = kh * kw if depthwise else kh * kw * channels
    dot = taps * 255 * wmax
    top = 0
    while dot << (top + 1) < SMALL_INT_LIMIT:
        top += 1
    shifts = [top, top // 2, 0, -1, -15, -31]
    out_channels = 2 * len(shifts) if not depthwise else channels * 2 * len(shifts)
    per_out = np.resize(np.repeat(shifts, 2), out_channels)
    sign = np.resize([1, -1], out_channels)
    room = (SMALL_INT_LIMIT - 1 >> np.maximum(per_out, 0)) - dot
    bias = (-sign * room).astype(np.int32)
    shape = (kh, kw, out_channels) if depthwise else (out_channels, kh, kw, channels)
    sign_shape = (1, 1, -1) if depthwise else (-1, 1, 1, 1)
    weights = (np.ones(shape, np.int64) * wmax * sign.reshape(sign_shape)).astype(np.int8)
    size = int(rng.integers(kh, kh + 3)), int(rng.integers(kw, kw + 3))
    params = {
        "in_height": size[0],
        "in_width": size[1],
        "in_channels": channels,
        "out_height": size[0] - kh + 1,
        "out_width": size[1] - kw + 1,
        "out_channels": out_channels,
        "kernel_height": kh,
        "kernel_width": kw,
        "stride_height": 1,
        "stride_width": 1,
        "dilation_height": 1,
        "dilation_width": 1,
        "pad_top": 0,
        "pad_left": 0,
        "input_zero_point": 127,
        "output_zero_point": 0,
        "act_min": -128,
        "act_max": 127,
    }
    if depthwise:
        params["depth_multiplier"] = out_channels // channels
    tensors = {
        "weights": weights,
        "bias": bias,
        "multiplier": np.full(out_channels, multiplier, np.int32),
        "shift": per_out.astype(np.int32),
    }
    op = "DEPTHWISE_CONV_2D" if depthwise else "CONV_2D"
    layer = Layer(op, params, tensors, weight_bits=bits)
    assert layer.accumulator_bounds().max() == SMALL_INT_LIMIT - 1
    return layer


def output_shape(layer) -> tuple:
    p = layer.params
    if layer.op == "MEAN":
        return (p["channels"],)
    if layer.op in POOLS:
        return (p["out_height"], p["out_width"], p["channels"])
    return (p["out_height"], p["out_width"], p["out_channels"])


def random_chain(rng, length=None) -> Model:
    """Convolutions and pools in a row, sometimes ending in a MEAN."""
    shape = _image(rng, None, 10)
    layers = []
    for _ in range(int(rng.integers(2, 5)) if length is None else length):
        kind = rng.integers(3)
        if kind == 2:
            layer = random_pool(rng, input_shape=shape)
        else:
            layer, _ = random_conv(rng, depthwise=bool(kind), input_shape=shape)
        layers.append(layer)
        shape = output_shape(layer)
    if rng.random() < 0.4:
        layers.append(random_mean(rng, input_shape=shape)[0])
    first = layer_input_shape(layers[0])
    last = output_shape(layers[-1])
    return Model(TensorSpec(first, 0.5, 0), TensorSpec(last, 0.25, 0), layers)


def one_layer_model(layer, in_shape, in_zero_point=0) -> Model:
    """A single-layer chain model around `layer` (edge scales are informative only)."""
    out_zp = layer.params.get("output_zero_point", in_zero_point)
    out_shape = output_shape(layer)
    return Model(
        TensorSpec(tuple(in_shape), 0.5, in_zero_point),
        TensorSpec(out_shape, 0.25, out_zp),
        [layer],
    )


def layer_input_shape(layer) -> tuple:
    p = layer.params
    channels = p.get("in_channels", p.get("channels"))
    return (p["in_height"], p["in_width"], channels)


def random_inputs(rng, shape, count):
    """int8 samples: uniform, extremes only, and constant images."""
    samples = [rng.integers(-128, 128, size=shape) for _ in range(max(count - 2, 1))]
    samples.append(rng.choice([-128, 127], size=shape))
    samples.append(np.full(shape, int(rng.choice([-128, 127]))))
    return np.stack(samples[:count]).astype(np.int8)
