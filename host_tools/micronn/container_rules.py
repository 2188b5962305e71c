"""The rules a Model must satisfy to be written to, or read from, a .mnq container."""

import numpy as np

from micronn.model import ACTIVATION_CODES, OPS, SMALL_INT_LIMIT, WEIGHT_LIMITS, Layer, Model
from micronn.ops.softmax import MAX_DEPTH, diff_min_for, exp_table


class ContainerError(ValueError):
    """A .mnq file or Model that breaks the format rules (docs/format.md)."""


def weight_shape(op: str, p: dict) -> tuple:
    if op == "FULLY_CONNECTED":
        return (p["out_features"], p["in_features"])
    if op == "CONV_2D":
        return (p["out_channels"], p["kernel_height"], p["kernel_width"], p["in_channels"])
    return (p["kernel_height"], p["kernel_width"], p["out_channels"])


def _require(condition, message):
    if not condition:
        raise ContainerError(message)


def validate(model: Model) -> None:
    """Raise ContainerError unless the model satisfies every rule of docs/format.md."""
    _require(model.layers, "a model needs at least one layer")
    shapes = model.shapes
    _require(2 <= len(shapes) < 0xFFFF, "a model needs 2 to 65534 activation tensors")
    for t, shape in enumerate(shapes):
        ok = 1 <= len(shape) <= 4 and all(1 <= d <= 0xFFFF for d in shape)
        _require(ok, f"activation tensor {t} shape {shape} needs 1-4 dims in 1..65535")
    for name, spec, tensor in (
        ("input", model.input, model.input_tensor),
        ("output", model.output, model.output_tensor),
    ):
        _require(0 <= tensor < len(shapes), f"{name} tensor id {tensor} does not exist")
        _require(spec.dtype == "int8", f"{name} dtype must be int8, got {spec.dtype!r}")
        _require(
            tuple(spec.shape) == tuple(shapes[tensor]),
            f"{name} shape {spec.shape} differs from tensor {tensor}'s {shapes[tensor]}",
        )
        _require(
            np.isfinite(spec.scale) and spec.scale > 0,
            f"{name} scale must be finite and > 0, got {spec.scale}",
        )
        _require(-128 <= spec.zero_point <= 127, f"{name} zero point is outside -128..127")
    produced = {model.input_tensor}
    for index, layer in enumerate(model.layers):
        where = f"layer {index} ({layer.op})"
        for tensor in layer.inputs:
            _require(tensor in produced, f"{where}: reads tensor {tensor} before it is written")
        _require(
            0 <= layer.output < len(shapes) and layer.output not in produced,
            f"{where}: output tensor {layer.output} is invalid or written twice",
        )
        produced.add(layer.output)
        in_shapes = [tuple(shapes[t]) for t in layer.inputs]
        _check_layer(where, layer, in_shapes, tuple(shapes[layer.output]))
    _require(model.output_tensor in produced, "the output tensor is never written")
    _require(len(produced) == len(shapes), "some activation tensors are never written")


def _size(shape) -> int:
    return int(np.prod(shape))


def _check_layer(where, layer: Layer, in_shapes, out_shape) -> None:
    _require(layer.op in OPS, f"{where}: unknown operator")
    spec = layer.spec
    _require(set(layer.params) == set(spec.params), f"{where}: params must be {spec.params}")
    _require(len(layer.inputs) == spec.inputs, f"{where}: takes {spec.inputs} input(s)")
    _require(layer.activation in ACTIVATION_CODES, f"{where}: unknown activation")
    names = {name for name, _ in spec.tensors}
    _require(set(layer.tensors) == names, f"{where}: tensors must be {sorted(names)}")
    p = layer.params
    for key in ("act_min", "act_max", "input_zero_point", "output_zero_point"):
        if key in p:
            _require(-128 <= p[key] <= 127, f"{where}: {key} is outside -128..127")
    if "act_min" in p:
        _require(p["act_min"] <= p["act_max"], f"{where}: act_min > act_max")
    CHECKS[layer.op](where, layer, in_shapes, out_shape)


def _check_requantization(where, layer: Layer, channels: int) -> None:
    _require(layer.weight_bits in WEIGHT_LIMITS, f"{where}: weight bits must be 8, 4 or 2")
    weights = np.asarray(layer.weights)
    _require(
        weights.shape == weight_shape(layer.op, layer.params),
        f"{where}: weights must have shape {weight_shape(layer.op, layer.params)}",
    )
    limit = WEIGHT_LIMITS[layer.weight_bits]
    _require(
        np.abs(weights.astype(np.int64)).max() <= limit,
        f"{where}: int{layer.weight_bits} weights must be in ±{limit}",
    )
    _require(layer.bias.shape == (channels,), f"{where}: bias must have {channels} entries")
    count = layer.multiplier.size
    _require(
        count in (1, channels) and layer.shift.size == count,
        f"{where}: multiplier/shift need 1 or {channels} entries",
    )
    _check_multiplier(where, layer.multiplier, layer.shift)
    worst = int(layer.accumulator_bounds().max())
    _require(
        worst < SMALL_INT_LIMIT,
        f"{where}: the accumulator can reach {worst} (>= 2^30), beyond the boards' 31-bit "
        "integers; use fewer inputs per output, smaller biases or a wider output range",
    )


def _check_multiplier(where, multiplier, shift) -> None:
    m = np.asarray(multiplier, np.int64)
    _require(
        not np.any((m != 0) & ((m < 2**30) | (m >= 2**31))),
        f"{where}: multipliers must be 0 or in [2^30, 2^31)",
    )
    s = np.asarray(shift, np.int64)
    _require(not np.any((s < -31) | (s > 30)), f"{where}: shifts must be in [-31, 30]")


def _check_fully_connected(where, layer, in_shapes, out_shape):
    p = layer.params
    _require(p["in_features"] >= 1 and p["out_features"] >= 1, f"{where}: empty layer")
    _require(
        _size(in_shapes[0]) == p["in_features"],
        f"{where}: takes {p['in_features']} features but receives {_size(in_shapes[0])}",
    )
    _require(_size(out_shape) == p["out_features"], f"{where}: output size mismatch")
    _check_requantization(where, layer, p["out_features"])


def _check_window(where, p, kernel_h, kernel_w, dilation_h=1, dilation_w=1):
    for key in ("in_height", "in_width", "out_height", "out_width"):
        _require(p[key] >= 1, f"{where}: {key} must be >= 1")
    for key in ("stride_height", "stride_width"):
        _require(p[key] >= 1, f"{where}: {key} must be >= 1")
    _require(kernel_h >= 1 and kernel_w >= 1, f"{where}: the window must be at least 1x1")
    _require(dilation_h >= 1 and dilation_w >= 1, f"{where}: dilation must be >= 1")
    _require(
        0 <= p["pad_top"] < (kernel_h - 1) * dilation_h + 1
        and 0 <= p["pad_left"] < (kernel_w - 1) * dilation_w + 1,
        f"{where}: padding must be smaller than the window",
    )


def _check_windows_start_inside(where, p):
    """An average needs a tap: every pooling window must start before the input ends."""
    _require(
        (p["out_height"] - 1) * p["stride_height"] - p["pad_top"] < p["in_height"]
        and (p["out_width"] - 1) * p["stride_width"] - p["pad_left"] < p["in_width"],
        f"{where}: the last window starts past the end of the input (output too large)",
    )


def _check_spatial_io(where, in_shapes, out_shape, in_size, out_size):
    """Activations are flat in the arena and reshapes are folded away at import, so an image
    layer only needs its input and output tensors to have the right number of elements."""
    _require(
        _size(in_shapes[0]) == in_size,
        f"{where}: expects {in_size} input values, its input tensor {in_shapes[0]} has "
        f"{_size(in_shapes[0])}",
    )
    _require(
        _size(out_shape) == out_size,
        f"{where}: writes {out_size} values, its output tensor {out_shape} has {_size(out_shape)}",
    )


def _check_conv(where, layer, in_shapes, out_shape):
    p = layer.params
    depthwise = layer.op == "DEPTHWISE_CONV_2D"
    channels = p["in_channels"]
    _require(channels >= 1 and p["out_channels"] >= 1, f"{where}: channels must be >= 1")
    in_size = p["in_height"] * p["in_width"] * channels
    out_size = p["out_height"] * p["out_width"] * p["out_channels"]
    _check_spatial_io(where, in_shapes, out_shape, in_size, out_size)
    if depthwise:
        _require(
            p["depth_multiplier"] >= 1 and p["out_channels"] == channels * p["depth_multiplier"],
            f"{where}: out_channels must be in_channels x depth_multiplier",
        )
    p_kernel = (p["kernel_height"], p["kernel_width"], p["dilation_height"], p["dilation_width"])
    _check_window(where, p, *p_kernel)
    _check_requantization(where, layer, p["out_channels"])


def _check_pool(where, layer, in_shapes, out_shape):
    p = layer.params
    _require(p["channels"] >= 1, f"{where}: channels must be >= 1")
    in_size = p["in_height"] * p["in_width"] * p["channels"]
    out_size = p["out_height"] * p["out_width"] * p["channels"]
    _check_spatial_io(where, in_shapes, out_shape, in_size, out_size)
    _check_window(where, p, p["filter_height"], p["filter_width"])
    _check_windows_start_inside(where, p)
    _require(p["filter_height"] * p["filter_width"] < 2**22, f"{where}: window too large")


def _check_mean(where, layer, in_shapes, out_shape):
    p = layer.params
    for key in ("in_height", "in_width", "channels"):
        _require(p[key] >= 1, f"{where}: {key} must be >= 1")
    count = p["in_height"] * p["in_width"]
    _check_spatial_io(where, in_shapes, out_shape, count * p["channels"], p["channels"])
    _require(count < 2**22, f"{where}: too many values to average")
    # The multiplier has 1 / count folded in (TFLM's QuantizedMeanOrSum), so it may be below 2^30.
    _require(0 <= p["multiplier"] < 2**31, f"{where}: multiplier must be in [0, 2^31)")
    _require(-31 <= p["shift"] <= 30, f"{where}: shift must be in [-31, 30]")
    worst = count * 255 << max(p["shift"], 0)
    _require(
        worst < SMALL_INT_LIMIT,
        f"{where}: the sum can reach {worst} (>= 2^30), beyond the boards' 31-bit integers; "
        "average fewer values or use a wider output range",
    )


def _check_add(where, layer, in_shapes, out_shape):
    p = layer.params
    sizes = {_size(in_shapes[0]), _size(in_shapes[1]), _size(out_shape), p["size"]}
    _require(len(sizes) == 1, f"{where}: both inputs and the output must have the same size")
    # (x + offset) * 2**left_shift stays below 255 * 2**20 < 2**28: a board small int.
    _require(0 <= p["left_shift"] <= 20, f"{where}: left_shift must be in 0..20")
    for key in ("input1_offset", "input2_offset"):
        _require(-127 <= p[key] <= 128, f"{where}: {key} must be minus an int8 zero point")
    _require(-128 <= p["output_offset"] <= 127, f"{where}: output_offset out of range")
    for name in ("input1", "input2", "output"):
        _check_multiplier(where, [p[f"{name}_multiplier"]], [p[f"{name}_shift"]])
        _require(p[f"{name}_shift"] <= 0, f"{where}: {name}_shift must be <= 0 (a right shift)")


def _check_lookup(where, layer, in_shapes, out_shape):
    size = layer.params["size"]
    _require(_size(in_shapes[0]) == size == _size(out_shape), f"{where}: size mismatch")
    _require(layer.table.shape == (256,), f"{where}: the lookup table needs 256 entries")


def _check_softmax(where, layer, in_shapes, out_shape):
    p = layer.params
    depth = p["depth"]
    _require(p["rows"] >= 1 and 1 <= depth <= MAX_DEPTH, f"{where}: depth must be 1..{MAX_DEPTH}")
    size = p["rows"] * depth
    _require(_size(in_shapes[0]) == size == _size(out_shape), f"{where}: size mismatch")
    multiplier, left_shift = p["input_multiplier"], p["input_left_shift"]
    _require(
        2**30 <= multiplier < 2**31 and 0 <= left_shift <= 31,
        f"{where}: input_multiplier must be in [2^30, 2^31) and input_left_shift in 0..31",
    )
    _require(p["diff_min"] == diff_min_for(left_shift), f"{where}: diff_min does not match")
    _require(
        np.array_equal(layer.exp, exp_table(multiplier, left_shift, p["diff_min"])),
        f"{where}: the exp table is not TFLM's for these parameters",
    )


CHECKS = {
    "FULLY_CONNECTED": _check_fully_connected,
    "CONV_2D": _check_conv,
    "DEPTHWISE_CONV_2D": _check_conv,
    "MAX_POOL_2D": _check_pool,
    "AVERAGE_POOL_2D": _check_pool,
    "MEAN": _check_mean,
    "ADD": _check_add,
    "LOGISTIC": _check_lookup,
    "TANH": _check_lookup,
    "SOFTMAX": _check_softmax,
}
