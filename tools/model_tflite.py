"""The int8 .tflite of a micronn model, written from its integer plan (no TensorFlow).

model_tflite(model) recovers float32 scales that reproduce every multiplier of the container and
writes the network with tests/tflite_builder.py: FULLY_CONNECTED, CONV_2D, DEPTHWISE_CONV_2D and
SOFTMAX, with RESHAPE where a layer reads another layout. same_plan() checks that the file
imports as the same integer plan; tflite_bytes() gives its size for `make bench`.
"""

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from tflite_builder import Op, T, build_tflite  # noqa: E402

from micronn import reference, tflite_int8  # noqa: E402
from micronn.importers.tflite import import_tflite  # noqa: E402
from micronn.ops import softmax  # noqa: E402
from micronn.ops.window import geometry  # noqa: E402


def _quantize_multipliers(real):
    """TFLM's QuantizeMultiplier on an array of positive reals: (multiplier, shift)."""
    fraction, shift = np.frexp(real)
    q = np.floor(fraction * 2.0**31 + 0.5)
    carry = q == 2.0**31
    return np.where(carry, q / 2, q), shift + carry


def weight_scales(input_scale, output_scale, multiplier, shift, per_tensor=False):
    """float32 weight scales w from which TFLM's Prepare derives (multiplier, shift) as
    input_scale x w / output_scale, elementwise; 0 where no float32 does. per_tensor: a
    FULLY_CONNECTED layer with one weight scale (TFLM rounds in_s x w to float32 first)."""
    s_in = np.float64(np.float32(input_scale))
    s_out = np.asarray(output_scale, np.float32).astype(np.float64)
    multiplier, shift = np.asarray(multiplier, np.int64), np.asarray(shift, np.int64)
    nearest = (multiplier * np.exp2(shift - 31.0) * s_out / s_in).astype(np.float32)
    found = np.zeros_like(nearest)
    for w in (nearest, np.nextafter(nearest, 0), np.nextafter(nearest, np.inf)):
        product = s_in * w.astype(np.float64)
        if per_tensor:
            product = product.astype(np.float32).astype(np.float64)
        got_multiplier, got_shift = _quantize_multipliers(product / s_out)
        hit = (found == 0) & (got_multiplier == multiplier) & (got_shift == shift)
        found = np.where(hit, w, found)
    return found


def _per_tensor(layer) -> bool:
    return layer.op == "FULLY_CONNECTED" and layer.multiplier.size == 1


def output_scale(input_scale, layer, zero_point) -> float:
    """A float32 output scale for which every channel of `layer` has a float32 weight scale
    giving its multiplier and shift. Only the scale's mantissa shows in them: all 2**23 are
    tried, channel by channel; the power of two is the one nearest the input scale that keeps
    the layer's activation clamp (RELU6 depends on it)."""
    mantissas = (1 + np.arange(2**23) / 2**23).astype(np.float32)
    for chunk in np.split(mantissas, 16):
        for multiplier, shift in zip(layer.multiplier, layer.shift, strict=True):
            chunk = chunk[
                weight_scales(input_scale, chunk, multiplier, shift, _per_tensor(layer)) > 0
            ]
        if chunk.size:
            break
    else:
        raise ValueError(f"{layer.op}: no float32 scales give its multipliers")
    exponent = np.frexp(np.float32(input_scale))[1]
    clamp = (layer.act_min, layer.act_max)
    for power in sorted(range(-125, 128), key=lambda p: abs(p - exponent)):
        scale = float(np.ldexp(chunk[0], power - 1))
        if tflite_int8.activation_range(layer.activation, scale, zero_point) == clamp:
            return scale
    raise ValueError(f"{layer.op}: no output scale gives its activation clamp {clamp}")


def softmax_input_scale(layer) -> float:
    """The input scale behind a SOFTMAX's multiplier with beta 1 (real = scale x 2**26)."""
    scale = float(layer.input_multiplier * 2.0 ** (layer.input_left_shift - 57))
    expected = (layer.input_multiplier, layer.input_left_shift, layer.diff_min)
    if float(np.float32(scale)) != scale or softmax.input_rescaling(1.0, scale) != expected:
        raise ValueError("SOFTMAX: its multiplier needs a beta other than 1")
    return scale


def activation_quantization(model) -> tuple[dict, dict]:
    """({tensor id: float32 scale}, {tensor id: zero point}) of every activation, such that
    TFLM re-derives exactly the model's integer plan. The edges keep their scales; hidden ones
    are found from the multipliers (output_scale, softmax_input_scale)."""
    unsupported = sorted({layer.op for layer in model.layers} - set(TFLITE_OPERATORS))
    if unsupported:
        raise ValueError(f"no .tflite writer here for {', '.join(unsupported)}")
    if any(layer.weight_bits != 8 for layer in model.layers):
        raise ValueError("int4/int2 weights: only int8 ones are written")
    scales = {model.input_tensor: model.input.scale, model.output_tensor: model.output.scale}
    points = {model.input_tensor: model.input.zero_point}
    for layer in model.layers:
        points[layer.output] = layer.params.get("output_zero_point", softmax.OUTPUT_ZERO_POINT)
        if layer.op == "SOFTMAX":
            scales[layer.inputs[0]] = softmax_input_scale(layer)
            scales[layer.output] = softmax.OUTPUT_SCALE
    for layer in model.layers:
        if layer.output not in scales:
            scales[layer.output] = output_scale(
                scales[layer.inputs[0]], layer, points[layer.output]
            )
    return scales, points


def _padding(layer) -> str:
    p = layer.params
    image = (p["in_height"], p["in_width"])
    kernel = (p["kernel_height"], p["kernel_width"])
    stride = (p["stride_height"], p["stride_width"])
    dilation = (p["dilation_height"], p["dilation_width"])
    wanted = {key: p[key] for key in ("out_height", "out_width", "pad_top", "pad_left")}
    for padding in ("same", "valid"):
        try:
            if geometry(image, kernel, stride, dilation, padding) == wanted:
                return padding.upper()
        except ValueError:
            continue
    raise ValueError(f"{layer.op}: its padding is neither SAME nor VALID (needs a PAD operator)")


def _window_options(layer) -> dict:
    p = layer.params
    return {
        "padding": _padding(layer),
        "stride_w": p["stride_width"],
        "stride_h": p["stride_height"],
        "dilation_w_factor": p["dilation_width"],
        "dilation_h_factor": p["dilation_height"],
        "fused_activation_function": layer.activation.upper(),
    }


def _image(layer, prefix) -> tuple:
    p = layer.params
    return (p[f"{prefix}_height"], p[f"{prefix}_width"], p[f"{prefix}_channels"])


def _rows(layer) -> tuple:
    return (layer.depth,) if layer.rows == 1 else (layer.rows, layer.depth)


REQUANTIZED = ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D")
# operator: (its options, the input and output shapes it reads and writes)
TFLITE_OPERATORS = {
    "FULLY_CONNECTED": (
        lambda layer: {"fused_activation_function": layer.activation.upper()},
        lambda layer: ((layer.in_features,), (layer.out_features,)),
    ),
    "CONV_2D": (_window_options, lambda layer: (_image(layer, "in"), _image(layer, "out"))),
    "DEPTHWISE_CONV_2D": (
        lambda layer: _window_options(layer) | {"depth_multiplier": layer.depth_multiplier},
        lambda layer: (_image(layer, "in"), _image(layer, "out")),
    ),
    "SOFTMAX": (lambda layer: {"beta": 1.0}, lambda layer: (_rows(layer), _rows(layer))),
}


class TfliteWriter:
    """Tensors and operators of the .tflite of one model (see model_tflite)."""

    def __init__(self, model):
        self.model = model
        self.scales, self.zero_points = activation_quantization(model)
        self.tensors, self.operators, self.views, self.reshaped = [], [], {}, set()

    def add(self, tensor: T) -> int:
        self.tensors.append(tensor)
        return len(self.tensors) - 1

    def activation(self, tensor_id, shape=None) -> int:
        """The TFLite tensor of activation `tensor_id`; with `shape` another view of its bytes,
        which the caller fills with reshape()."""
        own = tuple(self.model.shapes[tensor_id])
        key = (tensor_id, own if shape is None else tuple(shape))
        if key not in self.views:
            name = f"act{tensor_id}" if key[1] == own else f"act{tensor_id}/view{len(self.views)}"
            scale, zero_point = self.scales[tensor_id], self.zero_points[tensor_id]
            self.views[key] = self.add(
                T(name, (1, *key[1]), scale=(scale,), zero_point=(zero_point,))
            )
        return self.views[key]

    def reshape(self, source: int, target: int):
        shape = np.array(self.tensors[target].shape, np.int32)
        name = f"{self.tensors[target].name}/shape"
        new_shape = self.add(T(name, shape.shape, "INT32", shape))
        self.operators.append(Op("RESHAPE", (source, new_shape), (target,)))
        self.reshaped.add(target)

    def constants(self, index, layer) -> list:
        """[weights, bias] as TFLite stores them: int8 codes with per-channel scales (depthwise
        [1, H, W, C*M]), int32 bias with the input zero point unfolded."""
        in_scale, out_scale = self.scales[layer.inputs[0]], self.scales[layer.output]
        scales = weight_scales(
            in_scale, out_scale, layer.multiplier, layer.shift, _per_tensor(layer)
        )
        if not scales.all():
            raise ValueError(f"{layer.op}: no float32 weight scale gives one of its multipliers")
        codes, bias, axis = layer.weights, layer.bias.astype(np.int64), 0
        if layer.op == "FULLY_CONNECTED":
            bias += layer.input_zero_point * codes.astype(np.int64).sum(axis=1)
        if layer.op == "DEPTHWISE_CONV_2D":
            codes, axis = codes[np.newaxis], 3
        if np.abs(bias).max() >= 2**31:
            raise ValueError(f"{layer.op}: its unfolded bias does not fit int32")
        bias_scales = tuple(np.float64(in_scale) * scales.astype(np.float64))
        return [
            self.add(
                T(f"{index}/weights", codes.shape, data=codes, scale=tuple(scales), axis=axis)
            ),
            self.add(
                T(f"{index}/bias", bias.shape, "INT32", bias.astype(np.int32), scale=bias_scales)
            ),
        ]

    def layer(self, index, layer):
        options, shapes = TFLITE_OPERATORS[layer.op]
        in_shape, out_shape = shapes(layer)
        source, view = self.activation(layer.inputs[0]), self.activation(layer.inputs[0], in_shape)
        if view != source and view not in self.reshaped:
            self.reshape(source, view)
        inputs = [view] + (self.constants(index, layer) if layer.op in REQUANTIZED else [])
        target, output = self.activation(layer.output), self.activation(layer.output, out_shape)
        self.operators.append(Op(layer.op, tuple(inputs), (output,), options(layer)))
        if output != target:
            self.reshape(output, target)

    def build(self) -> bytes:
        model = self.model
        first = self.activation(model.input_tensor)
        for index, layer in enumerate(model.layers):
            self.layer(index, layer)
        last = self.activation(model.output_tensor)
        return build_tflite(self.tensors, self.operators, (first,), (last,))


def model_tflite(model) -> bytes:
    """The model as the int8 .tflite TFLite would store: per-channel int8 weights, int32 bias
    (zero point unfolded), float32 scales from which TFLM derives exactly the model's
    multipliers and shifts, and a RESHAPE wherever a layer reads another layout. Raises
    ValueError for an operator or plan it cannot write."""
    return TfliteWriter(model).build()


def same_plan(model, other) -> bool:
    """Layer by layer the same operator, integer parameters and tensors."""
    if len(model.layers) != len(other.layers):
        return False
    return all(
        a.op == b.op
        and a.params == b.params
        and a.tensors.keys() == b.tensors.keys()
        and all(np.array_equal(a.tensors[name], b.tensors[name]) for name in a.tensors)
        for a, b in zip(model.layers, other.layers, strict=True)
    )


def tflite_bytes(model, x) -> str:
    """Size of the model's .tflite, checked to import as the container's integer plan and to
    compute its outputs for x."""
    try:
        data = model_tflite(model)
    except ValueError as problem:
        return f"n/a: {problem}"
    again = import_tflite(data, "bench.tflite")
    if not same_plan(model, again) or not np.array_equal(
        reference.run(again, x), reference.run(model, x)
    ):
        return f"{len(data):,} (imports as a different model)"
    return f"{len(data):,}"
