"""ONNX nodes -> float graph nodes (micronn.graph), turning channels-first to channels-last."""

import math
from dataclasses import dataclass

import numpy as np

from micronn.float_ops import same_pads
from micronn.graph_builder import GraphBuilder

SUPPORTED = (
    "Gemm, MatMul (+ Add of a constant bias), Conv (group 1 or depthwise), Relu, Clip, "
    "LeakyRelu, HardSwish, Sigmoid, Tanh, Softmax, MaxPool, AveragePool, GlobalAveragePool, "
    "ReduceMean, ReduceMax, GlobalMaxPool, Resize, Upsample, Flatten, Reshape, Add, Mul, Sub, "
    "Max, Min, PRelu (with NumPy broadcasting), BatchNormalization, Identity, Dropout, Constant, "
    "Concat, Transpose, Pad (constant), Slice"
)
BINARY_NODES = {"Add": "add", "Mul": "mul", "Sub": "sub", "Max": "maximum", "Min": "minimum"}
CHANNELS_LAST = "channels_last"  # ONNX (C, H, W) / (C, L) held as (H, W, C) / (1, L, C)
SAME = "same"  # held in ONNX's own layout
FLAT_CHW = "flat_chw"  # ONNX's flatten of (C, H, W), held flattened in (H, W, C) order


@dataclass
class Value:
    """An ONNX tensor in the builder: its id, ONNX shape of one sample, and layout."""

    tensor: int
    shape: tuple
    layout: str = SAME
    source: tuple = ()  # FLAT_CHW: the (C, H, W) that was flattened


def channels_last(shape) -> tuple:
    shape = tuple(int(d) for d in shape)
    if len(shape) == 3:
        return (shape[1], shape[2], shape[0])
    return (1, shape[1], shape[0])


# ONNX TensorProto.DataType -> numpy: the numeric types micronn reads
ONNX_TYPES = {
    1: np.float32,
    2: np.uint8,
    3: np.int8,
    4: np.uint16,
    5: np.int16,
    6: np.int32,
    7: np.int64,
    9: np.bool_,
    10: np.float16,
    11: np.float64,
    12: np.uint32,
    13: np.uint64,
}
EXTERNAL = 1  # TensorProto.DataLocation: the values are in another file
ONE_FILE_ADVICE = "save the model as one file: onnx.save(model, path, save_as_external_data=False)"


def _values_held(tensor) -> int:
    """How many values a TensorProto holds (in raw_data or its typed field)."""
    itemsize = np.dtype(ONNX_TYPES[tensor.data_type]).itemsize
    if tensor.HasField("raw_data"):
        size = len(tensor.raw_data)
        return size // itemsize if size % itemsize == 0 else -1
    if tensor.data_type == 1:
        return len(tensor.float_data)
    if tensor.data_type == 11:
        return len(tensor.double_data)
    if tensor.data_type == 7:
        return len(tensor.int64_data)
    if tensor.data_type in (12, 13):
        return len(tensor.uint64_data)
    return len(tensor.int32_data)


def tensor_array(tensor, where: str) -> np.ndarray:
    """A TensorProto's values, after checking its type and that it holds what its dims say
    (so that nothing larger than the file is allocated)."""
    from onnx import numpy_helper

    name = f"{where}: tensor '{tensor.name}'"
    if tensor.data_type not in ONNX_TYPES:
        raise ValueError(
            f"{name} has ONNX data type {tensor.data_type}; micronn reads float, int and bool "
            "tensors: re-export the model"
        )
    if tensor.data_location == EXTERNAL:
        raise ValueError(f"{name} keeps its values in another file; {ONE_FILE_ADVICE}")
    dims = list(tensor.dims)
    if any(d < 0 for d in dims) or tensor.HasField("segment"):
        raise ValueError(f"{name} has dims {dims}; re-export the model")
    count, held = math.prod(dims), _values_held(tensor)
    if held != count:
        raise ValueError(
            f"{name} has dims {dims} ({count} values) but holds {max(held, 0)}; the file is "
            "damaged: re-export the model"
        )
    try:
        return numpy_helper.to_array(tensor)
    except (ValueError, TypeError, KeyError) as error:
        raise ValueError(f"{name} cannot be read ({error}); re-export the model") from None


class Attributes:
    """A node's attributes, read with the type each one must have (a damaged file can give
    any attribute any type)."""

    def __init__(self, node):
        from onnx import helper

        self.where = f"node '{node.name}' ({node.op_type})"
        self.values = {}
        for attribute in node.attribute:
            try:
                self.values[attribute.name] = helper.get_attribute_value(attribute)
            except (ValueError, TypeError) as error:  # an unknown attribute type
                raise ValueError(f"{self.where}: attribute '{attribute.name}': {error}") from None
            if self.values[attribute.name] is None:
                raise ValueError(f"{self.where}: attribute '{attribute.name}' has no value")

    def __contains__(self, key) -> bool:
        return key in self.values

    def _fail(self, key, wanted):
        shown = repr(self.values[key])[:60]
        raise ValueError(f"{self.where}: attribute '{key}' must be {wanted}, got {shown}")

    def int(self, key, default=None):
        value = self.values.get(key, default)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            self._fail(key, "an integer")
        return value

    def ints(self, key, default=None, count=None) -> list | None:
        value = self.values.get(key, default)
        if value is None:
            return None
        if not isinstance(value, (list, tuple, range)) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            self._fail(key, "a list of integers")
        if count is not None and len(value) != count:
            self._fail(key, f"{count} integers")
        return list(value)

    def float(self, key, default=None):
        value = self.values.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            self._fail(key, "a finite number")
        return float(value)

    def text(self, key, default) -> str:
        value = self.values.get(key, default)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if not isinstance(value, str):
            self._fail(key, "a string")
        return value

    def tensor(self, key):
        from onnx import TensorProto

        value = self.values.get(key)
        if not isinstance(value, TensorProto):
            raise ValueError(f"{self.where}: attribute '{key}' must be a tensor")
        return value


def int_values(array, where: str, what: str) -> list:
    """The integers of a constant (shape, axes, pads, starts ...) as a flat list."""
    values = np.asarray(array)
    if values.dtype.kind not in "iu" or values.ndim > 1:
        raise ValueError(f"{where}: {what} must be a list of integers, got {values.dtype} values")
    return [int(v) for v in values.reshape(-1)]


class OnnxGraph:
    def __init__(self, graph, constants: dict, input_shape):
        self.graph = graph
        self.constants = dict(constants)
        self.values = {}
        self.readers = {}
        for node in graph.node:
            for name in node.input:
                self.readers[name] = self.readers.get(name, 0) + 1
        input_shape = tuple(int(d) for d in input_shape)
        image = len(input_shape) in (2, 3)
        layout = CHANNELS_LAST if image else SAME
        self.builder = GraphBuilder(channels_last(input_shape) if image else input_shape)
        first = next(i for i in graph.input if i.name not in constants)
        self.values[first.name] = Value(self.builder.input, input_shape, layout)

    def build(self):
        for node in self.graph.node:
            handler = getattr(self, f"_{node.op_type}", None)
            if handler is None or node.domain not in ("", "ai.onnx"):
                raise ValueError(
                    f"node '{node.name}' ({node.op_type}) is not supported; micronn imports "
                    f"{SUPPORTED}. Export the model without it (replace the layer in PyTorch), "
                    "or convert it to an int8 .tflite"
                )
            if not node.output:
                raise ValueError(f"node '{node.name}' ({node.op_type}) has no output")
            result = handler(node, Attributes(node))
            if result is not None:
                self.values[node.output[0]] = result
        out = self.value(self.graph.output[0].name, "the graph output")
        if out.layout == FLAT_CHW:
            raise ValueError(
                "the model's output is a flattened image; micronn would return it in "
                "(H, W, C) order, not ONNX's (C, H, W): end the model with a dense layer"
            )
        return self.builder.build(out.tensor)

    # helpers ---------------------------------------------------------------------------

    def value(self, name, where) -> Value:
        if name not in self.values:
            what = "a constant" if name in self.constants else "not computed"
            raise ValueError(f"{where}: input '{name}' is {what}; micronn expects a tensor here")
        return self.values[name]

    def input(self, node, index: int = 0) -> Value:
        """The computed tensor feeding input `index` of the node."""
        if index >= len(node.input) or not node.input[index]:
            raise ValueError(f"node '{node.name}' ({node.op_type}) lacks its input {index}")
        return self.value(node.input[index], f"node '{node.name}' ({node.op_type})")

    def required(self, node, index, what: str) -> np.ndarray:
        """A constant input the node cannot do without (its weights)."""
        value = self.constant(node, index)
        if value is None:
            raise ValueError(f"node '{node.name}' ({node.op_type}) lacks its {what}")
        if value.dtype.kind not in "biuf":
            raise ValueError(
                f"node '{node.name}' ({node.op_type}): its {what} holds {value.dtype} values"
            )
        return value

    def constant(self, node, index):
        if index >= len(node.input) or not node.input[index]:
            return None
        name = node.input[index]
        if name not in self.constants:
            raise ValueError(
                f"node '{node.name}' ({node.op_type}): input '{name}' must be a constant "
                "(weights computed at run time are not supported)"
            )
        return np.asarray(self.constants[name])

    def _producer(self, value: Value):
        return next((n for n in self.builder.nodes if n.output == value.tensor), None)

    def _window(self, node, attrs, x: Value, kernel):
        """stride, dilation and (top, left, bottom, right) pads of a Conv or pool node."""
        spatial = len(x.shape) - 1
        if len(kernel) != spatial or min(kernel) < 1:
            raise ValueError(
                f"node '{node.name}' ({node.op_type}): kernel {list(kernel)} for a {spatial}-D "
                "input"
            )
        strides = attrs.ints("strides", [1] * spatial, count=spatial)
        dilations = attrs.ints("dilations", [1] * spatial, count=spatial)
        auto_pad = attrs.text("auto_pad", "NOTSET")
        sizes = list(x.shape[1:])
        if spatial == 1:
            strides, dilations, sizes, kernel = (
                [1, *strides],
                [1, *dilations],
                [1, *sizes],
                [1, *kernel],
            )
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            lower = auto_pad == "SAME_LOWER"
            h = same_pads(sizes[0], kernel[0], strides[0], dilations[0], lower)
            w = same_pads(sizes[1], kernel[1], strides[1], dilations[1], lower)
            pads = (h[0], w[0], h[1], w[1])
        elif auto_pad == "VALID":
            pads = (0, 0, 0, 0)
        else:
            given = attrs.ints("pads", [0] * 2 * spatial, count=2 * spatial)
            pads = (
                (given[0], given[1], given[2], given[3])
                if spatial == 2
                else (0, given[0], 0, given[1])
            )
        return tuple(strides), tuple(dilations), pads, tuple(kernel)

    def _image(self, node, x: Value):
        if x.layout != CHANNELS_LAST:
            raise ValueError(
                f"node '{node.name}' ({node.op_type}) needs an (N, C, H, W) or (N, C, L) input, "
                f"got one of shape {x.shape}"
            )

    def _out_image(self, tensor, signal: bool) -> Value:
        shape = self.builder.shape(tensor)
        if signal:
            return Value(tensor, (shape[2], shape[1]), CHANNELS_LAST)
        return Value(tensor, (shape[2], shape[0], shape[1]), CHANNELS_LAST)

    # nodes -----------------------------------------------------------------------------

    def _Conv(self, node, attrs):  # noqa: N802 - ONNX op names
        x = self.input(node)
        self._image(node, x)
        weight = self.required(node, 1, "weight").astype(np.float32)
        bias = self.constant(node, 2)
        signal = len(x.shape) == 2
        if weight.ndim != len(x.shape) + 1:
            raise ValueError(
                f"node '{node.name}' (Conv): a weight of shape {list(weight.shape)} for an input "
                f"of shape {list(x.shape)}"
            )
        if signal:
            weight = weight[:, :, None, :]
        out_channels, group_inputs, kh, kw = weight.shape
        stride, dilation, pads, _ = self._window(node, attrs, x, [kw] if signal else [kh, kw])
        group = attrs.int("group", 1)
        channels = x.shape[0]
        if group == 1:
            tensor = self.builder.conv2d(
                x.tensor, weight.transpose(0, 2, 3, 1), bias, stride, dilation, pads, name=node.name
            )
        elif group == channels and group_inputs == 1 and out_channels % channels == 0:
            tensor = self.builder.depthwise_conv2d(
                x.tensor,
                weight[:, 0].transpose(1, 2, 0),
                bias,
                out_channels // channels,
                stride,
                dilation,
                pads,
                name=node.name,
            )
        else:
            raise ValueError(
                f"node '{node.name}' (Conv) has group={group}; micronn supports group=1 and "
                "depthwise (group = input channels)"
            )
        return self._out_image(tensor, signal)

    def _pool(self, op, node, attrs):
        x = self.input(node)
        self._image(node, x)
        if attrs.int("ceil_mode", 0) or any(d != 1 for d in attrs.ints("dilations", [])):
            raise ValueError(
                f"node '{node.name}' ({node.op_type}): ceil_mode and dilations are not supported"
            )
        kernel = attrs.ints("kernel_shape")
        if kernel is None:
            raise ValueError(f"node '{node.name}' ({node.op_type}) has no kernel_shape")
        stride, _, pads, kernel = self._window(node, attrs, x, kernel)
        if op == "avg_pool" and attrs.int("count_include_pad", 0) and any(pads):
            raise ValueError(
                f"node '{node.name}' (AveragePool): count_include_pad=1 with padding is not "
                "supported (TFLite averages over the values inside the image)"
            )
        tensor = self.builder.pool(op, x.tensor, kernel, stride, pads, name=node.name)
        return self._out_image(tensor, len(x.shape) == 2)

    def _MaxPool(self, node, attrs):  # noqa: N802
        if len(node.output) > 1 and node.output[1]:
            raise ValueError(f"node '{node.name}' (MaxPool): the indices output is not supported")
        return self._pool("max_pool", node, attrs)

    def _AveragePool(self, node, attrs):  # noqa: N802
        return self._pool("avg_pool", node, attrs)

    def _global(self, node, x: Value, keepdims=True) -> Value:
        self._image(node, x)
        channels = x.shape[0]
        tensor = self.builder.mean(x.tensor, node.name)
        if not keepdims:
            return Value(tensor, (channels,))
        spatial = len(x.shape) - 1
        tensor = self.builder.reshape(tensor, (1, 1, channels), node.name)
        return Value(tensor, (channels,) + (1,) * spatial, CHANNELS_LAST)

    def _GlobalAveragePool(self, node, attrs):  # noqa: N802
        return self._global(node, self.input(node))

    def _GlobalMaxPool(self, node, attrs):  # noqa: N802
        x = self.input(node)
        self._image(node, x)
        size = self.builder.shape(x.tensor)[:2]
        tensor = self.builder.pool("max_pool", x.tensor, size, size, name=node.name)
        spatial = len(x.shape) - 1
        return Value(tensor, (x.shape[0],) + (1,) * spatial, CHANNELS_LAST)

    def _ReduceMean(self, node, attrs):  # noqa: N802
        x = self.input(node)
        rank = len(x.shape) + 1
        axes = self._axes(node, attrs, rank)
        if x.layout == CHANNELS_LAST and axes == list(range(2, rank)):
            return self._global(node, x, bool(attrs.int("keepdims", 1)))
        return self._reduce("reduce_mean", node, attrs, x, axes)

    def _ReduceMax(self, node, attrs):  # noqa: N802
        x = self.input(node)
        return self._reduce("reduce_max", node, attrs, x, self._axes(node, attrs, len(x.shape) + 1))

    def _axes(self, node, attrs, rank) -> list:
        """The reduced axes of the batched ONNX tensor (attribute, or input 1 from opset 18);
        none given: every axis."""
        axes = attrs.ints("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            axes = int_values(self.constant(node, 1), node.name, "axes")
        if not axes:
            if attrs.int("noop_with_empty_axes", 0):
                raise ValueError(f"node '{node.name}' ({node.op_type}): reduces no axis")
            axes = range(rank)
        if any(not -rank <= int(a) < rank for a in axes):
            raise ValueError(f"node '{node.name}' ({node.op_type}): axes {list(axes)} out of range")
        return sorted({int(a) % rank for a in axes})

    def _reduce(self, op, node, attrs, x: Value, axes) -> Value:
        """reduce_max / reduce_mean over ONNX axes (batch 0 excluded) of a channels-last image
        or a tensor held as is. Without keepdims the kept axes must keep ONNX's order."""
        keepdims = bool(attrs.int("keepdims", 1))
        if 0 in axes:
            raise ValueError(
                f"node '{node.name}' ({node.op_type}) reduces the batch axis; micronn runs one "
                "sample at a time: reduce the other axes"
            )
        onnx_axes = [a - 1 for a in axes]  # of one sample's ONNX shape
        if x.layout == CHANNELS_LAST:
            # ONNX (C, H, W) / (C, L) is held as (H, W, C) / (1, L, C)
            to_held = {0: 2, 1: 0, 2: 1} if len(x.shape) == 3 else {0: 2, 1: 1}
            held = [to_held[a] for a in onnx_axes]
        elif x.layout == SAME:
            held = onnx_axes
        else:
            raise ValueError(f"node '{node.name}' ({node.op_type}) reduces a flattened image")
        tensor = self.builder.reduce(op, x.tensor, held, keepdims, node.name)
        kept = tuple(1 if k in onnx_axes else d for k, d in enumerate(x.shape))
        if keepdims:
            return Value(tensor, kept, x.layout)
        out = tuple(d for k, d in enumerate(x.shape) if k not in onnx_axes)
        if x.layout == CHANNELS_LAST and 0 not in onnx_axes and len(out) > 1:
            raise ValueError(
                f"node '{node.name}' ({node.op_type}) keeps the channels and a spatial axis "
                "without keepdims; micronn holds them in another order: use keepdims=1"
            )
        return Value(tensor, out or (1,))

    def _Resize(self, node, attrs):  # noqa: N802
        x = self.input(node)
        self._image(node, x)
        if len(x.shape) != 3:
            raise ValueError(f"node '{node.name}' (Resize) needs an (N, C, H, W) input")
        sizes = self.constant(node, 3)
        scales = self.constant(node, 2) if len(node.input) > 2 else self.constant(node, 1)
        if sizes is not None and sizes.size:
            out = int_values(sizes, node.name, "sizes")
        elif scales is not None and scales.size:
            out = _scaled(node, x, scales)
        else:
            raise ValueError(f"node '{node.name}' (Resize) has neither scales nor sizes")
        if len(out) != 4 or out[:2] != [1, x.shape[0]]:
            raise ValueError(f"node '{node.name}' (Resize) resizes the batch or channel axis")
        mode = attrs.text("mode", "nearest")
        transform = attrs.text("coordinate_transformation_mode", "half_pixel")
        rounding = attrs.text("nearest_mode", "round_prefer_floor")
        return self._resize(node, x, out[2:], mode, transform, rounding)

    def _Upsample(self, node, attrs):  # noqa: N802
        x = self.input(node)
        self._image(node, x)
        scales = attrs.values.get("scales")
        scales = self.required(node, 1, "scales") if scales is None else np.asarray(scales)
        out = _scaled(node, x, scales)
        if len(out) != 4 or out[:2] != [1, x.shape[0]]:
            raise ValueError(f"node '{node.name}' (Upsample) must resize H and W of (N, C, H, W)")
        mode = attrs.text("mode", "nearest")
        return self._resize(node, x, out[2:], mode, "asymmetric", "floor")

    def _resize(self, node, x: Value, size, mode, transform, rounding) -> Value:
        """ONNX's coordinate transformation and rounding as TFLite's align_corners and
        half_pixel_centers: only the combinations that give the same pixels."""
        modes = {
            ("nearest", "asymmetric", "floor"): (False, False),
            ("nearest", "tf_half_pixel_for_nn", "floor"): (False, True),
            ("nearest", "half_pixel", "round_prefer_ceil"): (False, True),
            ("nearest", "align_corners", "round_prefer_ceil"): (True, False),
            ("linear", "asymmetric", None): (False, False),
            ("linear", "half_pixel", None): (False, True),
            ("linear", "pytorch_half_pixel", None): (False, True),
            ("linear", "align_corners", None): (True, False),
        }
        key = (mode, transform, rounding if mode == "nearest" else None)
        if key not in modes or (transform == "pytorch_half_pixel" and min(size) < 2):
            raise ValueError(
                f"node '{node.name}' ({node.op_type}): mode {mode}, coordinate transformation "
                f"{transform}" + (f", nearest_mode {rounding}" if mode == "nearest" else "")
                + " has no TFLite equivalent; micronn resizes nearest (asymmetric + floor, "
                "tf_half_pixel_for_nn + floor, align_corners + round_prefer_ceil) or linear "
                "(asymmetric, half_pixel, align_corners)"
            )  # fmt: skip
        align, half = modes[key]
        kind = "nearest" if mode == "nearest" else "bilinear"
        tensor = self.builder.resize(x.tensor, size, kind, align, half, node.name)
        return self._out_image(tensor, False)

    def _dense(self, node, x: Value, weight, bias):
        """weight [out, in] in ONNX's column order; undo a channels-last flatten."""
        if len(x.shape) != 1:
            raise ValueError(
                f"node '{node.name}' ({node.op_type}) needs an (N, features) input, got shape "
                f"{x.shape}; flatten first"
            )
        if x.layout == FLAT_CHW:
            c, h, w = x.source
            weight = weight.reshape(-1, c, h, w).transpose(0, 2, 3, 1).reshape(weight.shape[0], -1)
        tensor = self.builder.dense(x.tensor, weight, bias, name=node.name)
        return Value(tensor, (weight.shape[0],))

    def _Gemm(self, node, attrs):  # noqa: N802
        x = self.input(node)
        if attrs.int("transA", 0):
            raise ValueError(f"node '{node.name}' (Gemm): transA=1 is not supported")
        weight = self.required(node, 1, "weight").astype(np.float32)
        if weight.ndim != 2:
            raise ValueError(f"node '{node.name}' (Gemm): the weight must be 2-D")
        alpha, beta = np.float32(attrs.float("alpha", 1.0)), np.float32(attrs.float("beta", 1.0))
        with np.errstate(over="ignore", invalid="ignore"):  # inf and NaN: refused by the builder
            weight = weight * alpha
        weight = weight if attrs.int("transB", 0) else weight.T
        bias = self.constant(node, 2)
        if bias is not None:
            with np.errstate(over="ignore", invalid="ignore"):
                bias = bias.astype(np.float32) * beta
            if bias.size not in (1, weight.shape[0]):
                raise ValueError(
                    f"node '{node.name}' (Gemm): {bias.size} biases for {weight.shape[0]} outputs"
                )
            bias = np.broadcast_to(bias.reshape(-1), weight.shape[:1])
        return self._dense(node, x, weight, bias)

    def _MatMul(self, node, attrs):  # noqa: N802
        x = self.input(node)
        weight = self.required(node, 1, "weight")
        if weight.ndim != 2:
            raise ValueError(f"node '{node.name}' (MatMul): the weight must be 2-D")
        return self._dense(node, x, weight.astype(np.float32).T, None)

    def _Add(self, node, attrs):  # noqa: N802
        names = list(node.input)
        tensor_name = next((n for n in names if n in self.values), None)
        const_name = next((n for n in names if n in self.constants), None)
        if tensor_name is not None and const_name is not None:
            x = self.values[tensor_name]
            producer = self._producer(x)
            bias = np.asarray(self.constants[const_name], np.float32)
            if (
                producer is not None
                and producer.op in ("dense", "conv2d", "depthwise_conv2d")
                and producer.activation == "none"
                and self.readers.get(tensor_name, 0) == 1
                and bias.size in (1, producer.bias.size)
                and self._channel_vector(bias, x)
            ):
                producer.bias = producer.bias + bias.reshape(-1)
                return x  # the bias of the MatMul/Gemm/Conv before it
        return self._binary(node, "add")

    def _channel_vector(self, value, x: Value) -> bool:
        """True when a constant holds one value per channel of x (or one value)."""
        if value.size == 1:
            return True
        shape = self._sample_constant_shape(np.asarray(value), x)
        if shape is None:
            return False
        return (
            x.layout == CHANNELS_LAST
            and shape[1:] == (1,) * (len(shape) - 1)
            or (
                x.layout == SAME
                and len(shape) == len(x.shape)
                and shape[:-1] == (1,) * (len(shape) - 1)
            )
        )

    @staticmethod
    def _sample_constant_shape(value, x: Value):
        """The ONNX shape of one sample of a constant operand of x (batch dropped, padded to
        x's rank), or None when it has a batch other than 1 or too many dims."""
        shape = tuple(int(d) for d in value.shape)
        rank = len(x.shape)
        if len(shape) == rank + 1:
            if shape[0] != 1:
                return None
            shape = shape[1:]
        if len(shape) > rank:
            return None
        return (1,) * (rank - len(shape)) + shape

    def _operand(self, node, name, x: Value) -> int:
        """The builder tensor of constant `name` broadcast against x, in x's layout."""
        value = np.asarray(self.constants[name], np.float32)
        shape = self._sample_constant_shape(value, x)
        if shape is None:
            raise ValueError(
                f"node '{node.name}' ({node.op_type}): constant '{name}' of shape "
                f"{list(value.shape)} does not broadcast against one sample of {list(x.shape)}"
            )
        value = value.reshape(shape)
        if x.layout == CHANNELS_LAST and value.size > 1:
            value = value.transpose(1, 2, 0) if value.ndim == 3 else value.T[np.newaxis]
        elif x.layout == FLAT_CHW and value.size > 1:
            raise ValueError(
                f"node '{node.name}' ({node.op_type}): a constant of shape {list(value.shape)} "
                "on a flattened image; micronn holds it in (H, W, C) order: use a scalar, or "
                "apply it before the Flatten"
            )
        return self.builder.constant(value, f"{node.name}/{name}")

    def _binary(self, node, op):
        """An element-wise node of two operands (computed, or one constant) with broadcasting."""
        names = list(node.input)
        if len(names) != 2:
            raise ValueError(
                f"node '{node.name}' ({node.op_type}) has {len(names)} inputs; micronn takes two"
            )
        computed = [self.values.get(name) for name in names]
        if computed[0] is None and computed[1] is None:
            raise ValueError(
                f"node '{node.name}' ({node.op_type}): inputs {names} are not computed"
            )
        if None not in computed:
            a, b = computed
            if a.layout != b.layout or (a.layout != SAME and len(a.shape) != len(b.shape)):
                raise ValueError(
                    f"node '{node.name}' ({node.op_type}): shapes {a.shape} and {b.shape} are "
                    "held in different layouts; micronn broadcasts tensors of one layout and rank"
                )
            tensors, x = (a.tensor, b.tensor), a
            shape = tuple(int(d) for d in np.broadcast_shapes(a.shape, b.shape))
        else:
            x = computed[0] if computed[0] is not None else computed[1]
            missing = [n for n, v in zip(names, computed, strict=True) if v is None]
            if missing[0] not in self.constants:
                raise ValueError(
                    f"node '{node.name}' ({node.op_type}): input '{missing[0]}' is neither "
                    "computed before it nor a constant"
                )
            tensors = [
                value.tensor if value is not None else self._operand(node, name, x)
                for name, value in zip(names, computed, strict=True)
            ]
            constant_shape = self._sample_constant_shape(
                np.asarray(self.constants[names[computed.index(None)]]), x
            )
            shape = tuple(int(d) for d in np.broadcast_shapes(x.shape, constant_shape))
        tensor = self.builder.binary(op, *tensors, name=node.name)
        return Value(tensor, shape, x.layout, x.source)

    def _Mul(self, node, attrs):  # noqa: N802
        return self._binary(node, "mul")

    def _Sub(self, node, attrs):  # noqa: N802
        return self._binary(node, "sub")

    def _Max(self, node, attrs):  # noqa: N802
        return self._binary(node, "maximum")

    def _Min(self, node, attrs):  # noqa: N802
        return self._binary(node, "minimum")

    def _PRelu(self, node, attrs):  # noqa: N802
        if node.input[0] not in self.values:
            raise ValueError(f"node '{node.name}' (PRelu): its input '{node.input[0]}' is constant")
        return self._binary(node, "prelu")

    def _activation(self, node, kind):
        x = self.input(node)
        tensor = self.builder.activation(x.tensor, kind, node.name)
        return Value(tensor, x.shape, x.layout, x.source)

    def _Relu(self, node, attrs):  # noqa: N802
        return self._activation(node, "relu")

    def _Clip(self, node, attrs):  # noqa: N802
        low = attrs.float("min")
        high = attrs.float("max")
        if len(node.input) > 1 and node.input[1]:
            low = _scalar(self.required(node, 1, "minimum"), node, "minimum")
        if len(node.input) > 2 and node.input[2]:
            high = _scalar(self.required(node, 2, "maximum"), node, "maximum")
        if low == 0 and high in (None, 6):
            return self._activation(node, "relu" if high is None else "relu6")
        low = None if low is None else float(low)
        high = None if high is None else float(high)
        return self._unary(node, "clip", low=low, high=high)

    def _LeakyRelu(self, node, attrs):  # noqa: N802
        return self._unary(node, "leaky_relu", alpha=attrs.float("alpha", 0.01))

    def _HardSwish(self, node, attrs):  # noqa: N802
        return self._unary(node, "hard_swish")

    def _unary(self, node, op, **attrs):
        x = self.input(node)
        tensor = self.builder.unary(op, x.tensor, node.name, **attrs)
        return Value(tensor, x.shape, x.layout, x.source)

    def _Sigmoid(self, node, attrs):  # noqa: N802
        return self._unary(node, "logistic")

    def _Tanh(self, node, attrs):  # noqa: N802
        return self._unary(node, "tanh")

    def _Softmax(self, node, attrs):  # noqa: N802
        x = self.input(node)
        rank = len(x.shape) + 1
        axis = attrs.int("axis", -1) % rank
        if x.layout != SAME or axis != rank - 1:
            raise ValueError(
                f"node '{node.name}' (Softmax): only the last axis of an (N, features) "
                "tensor is supported"
            )
        return self._unary(node, "softmax")

    def _flatten(self, node, x: Value) -> Value:
        size = int(np.prod(x.shape))
        tensor = self.builder.reshape(x.tensor, (size,), node.name)
        spatial = int(np.prod(x.shape[1:])) if x.layout == CHANNELS_LAST else 1
        if x.layout == CHANNELS_LAST and spatial > 1 and x.shape[0] > 1:
            c, *rest = x.shape
            source = (c, *rest) if len(rest) == 2 else (c, 1, rest[0])
            return Value(tensor, (size,), FLAT_CHW, source)
        return Value(tensor, (size,))

    def _Flatten(self, node, attrs):  # noqa: N802
        if attrs.int("axis", 1) != 1:
            raise ValueError(f"node '{node.name}' (Flatten): only axis=1 is supported")
        return self._flatten(node, self.input(node))

    def _Reshape(self, node, attrs):  # noqa: N802
        x = self.input(node)
        target = int_values(self.required(node, 1, "shape"), node.name, "the shape")[1:]
        target = [x.shape[i] if d == 0 and i < len(x.shape) else d for i, d in enumerate(target)]
        size = math.prod(x.shape)
        if not target or target.count(-1) > 1 or min(target) < -1:
            raise ValueError(f"node '{node.name}' (Reshape): cannot reshape to {target}")
        if -1 in target:
            known = math.prod(d for d in target if d != -1)
            if known < 1 or size % known:
                raise ValueError(f"node '{node.name}' (Reshape): cannot reshape {size} to {target}")
            target[target.index(-1)] = size // known
        if len(target) == 1:
            return self._flatten(node, x)
        if x.layout != SAME:
            raise ValueError(
                f"node '{node.name}' (Reshape): reshaping an image to {target} is not supported; "
                "only flattening it"
            )
        return Value(self.builder.reshape(x.tensor, target, node.name), tuple(target))

    def _BatchNormalization(self, node, attrs):  # noqa: N802
        x = self.input(node)
        gamma, beta, mean, variance = (
            self.required(node, i, what).astype(np.float64).reshape(-1)
            for i, what in enumerate(("scale", "bias", "mean", "variance"), 1)
        )
        if len({gamma.size, beta.size, mean.size, variance.size}) != 1:
            raise ValueError(f"node '{node.name}' (BatchNormalization): parameter sizes differ")
        with np.errstate(all="ignore"):  # a negative variance: NaN, refused by scale_shift
            scale = gamma / np.sqrt(variance + attrs.float("epsilon", 1e-5))
        shift = beta - mean * scale
        tensor = self.builder.scale_shift(x.tensor, scale, shift, node.name)
        return Value(tensor, x.shape, x.layout, x.source)

    def _Identity(self, node, attrs):  # noqa: N802
        return self.input(node)

    def _Dropout(self, node, attrs):  # noqa: N802
        return self.input(node)

    # the data movers ------------------------------------------------------------------

    def _builder_axes(self, node, x: Value) -> list:
        """The builder axis of each ONNX axis of one sample of x (no batch)."""
        if x.layout == FLAT_CHW:
            raise ValueError(
                f"node '{node.name}' ({node.op_type}) moves a flattened image; micronn holds it "
                "in (H, W, C) order, not ONNX's (C, H, W): move the data before flattening"
            )
        if x.layout == SAME:
            return list(range(len(x.shape)))
        return [2, 0, 1] if len(x.shape) == 3 else [2, 1]

    def _sample_axis(self, node, axis, rank) -> int:
        axis = int(axis) % rank
        if axis == 0:
            raise ValueError(
                f"node '{node.name}' ({node.op_type}) moves data along the batch axis; micronn "
                "runs one sample at a time"
            )
        return axis - 1

    def _Concat(self, node, attrs):  # noqa: N802
        xs = [self.value(name, node.name) for name in node.input]
        first = xs[0]
        if any(x.layout != first.layout or len(x.shape) != len(first.shape) for x in xs):
            raise ValueError(f"node '{node.name}' (Concat): its inputs have different layouts")
        axis = attrs.int("axis")
        if axis is None:
            raise ValueError(f"node '{node.name}' (Concat) has no axis")
        axis = self._sample_axis(node, axis, len(first.shape) + 1)
        builder_axis = self._builder_axes(node, first)[axis]
        tensor = self.builder.concat([x.tensor for x in xs], builder_axis, node.name)
        shape = list(first.shape)
        shape[axis] = sum(x.shape[axis] for x in xs)
        return Value(tensor, tuple(shape), first.layout)

    def _Transpose(self, node, attrs):  # noqa: N802
        x = self.input(node)
        rank = len(x.shape) + 1
        perm = attrs.ints("perm", range(rank - 1, -1, -1))
        if sorted(perm) != list(range(rank)):
            raise ValueError(f"node '{node.name}' (Transpose): perm {perm} for rank {rank}")
        if perm[0] != 0:
            self._sample_axis(node, 0, rank)
        order = [p - 1 for p in perm[1:]]
        axes, tensor = self._builder_axes(node, x), x.tensor
        if x.layout == CHANNELS_LAST and len(x.shape) == 2:  # (1, L, C) -> (L, C)
            tensor, axes = self.builder.reshape(tensor, (x.shape[1], x.shape[0]), node.name), [1, 0]
        onnx_order = [axes[q] for q in order]  # the builder perm that gives ONNX's output
        shape = tuple(x.shape[q] for q in order)
        if len(shape) == 3:  # held channels-last, as an image input is
            tensor = self.builder.transpose(tensor, [onnx_order[j] for j in (1, 2, 0)], node.name)
            return Value(tensor, shape, CHANNELS_LAST)
        if len(shape) == 2:  # held as (1, L, C), as a signal input is
            tensor = self.builder.transpose(tensor, [onnx_order[1], onnx_order[0]], node.name)
            tensor = self.builder.reshape(tensor, (1, shape[1], shape[0]), node.name)
            return Value(tensor, shape, CHANNELS_LAST)
        return Value(self.builder.transpose(tensor, onnx_order, node.name), shape)

    def _Pad(self, node, attrs):  # noqa: N802
        x = self.input(node)
        mode = attrs.text("mode", "constant")
        if mode != "constant":
            raise ValueError(f"node '{node.name}' (Pad): only mode 'constant' is supported")
        pads = self.constant(node, 1)
        pads = attrs.ints("pads", []) if pads is None else int_values(pads, node.name, "pads")
        value = self.constant(node, 2)
        if value is None:
            value = attrs.float("value", 0.0)
        else:
            value = _scalar(self.required(node, 2, "pad value"), node, "pad value")
        if self.constant(node, 3) is not None:
            raise ValueError(f"node '{node.name}' (Pad): the axes input is not supported")
        rank = len(x.shape) + 1
        if len(pads) != 2 * rank or pads[0] or pads[rank]:
            raise ValueError(f"node '{node.name}' (Pad): pads {pads} must not touch the batch")
        axes = self._builder_axes(node, x)
        paddings = [(0, 0)] * len(self.builder.shape(x.tensor))
        for a in range(rank - 1):
            paddings[axes[a]] = (pads[a + 1], pads[rank + a + 1])
        tensor = self.builder.pad(x.tensor, paddings, value, node.name)
        shape = tuple(d + pads[a + 1] + pads[rank + a + 1] for a, d in enumerate(x.shape))
        return Value(tensor, shape, x.layout)

    def _Slice(self, node, attrs):  # noqa: N802
        x = self.input(node)
        starts = int_values(self.required(node, 1, "starts"), node.name, "starts")
        ends = int_values(self.required(node, 2, "ends"), node.name, "ends")
        rank = len(x.shape) + 1
        axes = self.constant(node, 3)
        axes = list(range(len(starts))) if axes is None else int_values(axes, node.name, "axes")
        steps = self.constant(node, 4)
        steps = [1] * len(starts) if steps is None else int_values(steps, node.name, "steps")
        if not len(starts) == len(ends) == len(axes) == len(steps) or 0 in steps:
            raise ValueError(
                f"node '{node.name}' (Slice): starts, ends, axes and steps differ in length "
                "(or a step is 0)"
            )
        builder_axes = self._builder_axes(node, x)
        walk = [(0, d, 1) for d in self.builder.shape(x.tensor)]
        shape = list(x.shape)
        for axis, start, end, step in zip(axes, starts, ends, steps, strict=True):
            if axis % rank == 0:
                if (int(start), int(end), step) in ((0, 1, 1), (0, 2**63 - 1, 1)):
                    continue
            a = self._sample_axis(node, axis, rank)
            begin, stop, step = slice(int(start), int(end), step).indices(x.shape[a])
            count = len(range(begin, stop, step))
            if count < 1:
                raise ValueError(f"node '{node.name}' (Slice): the slice of axis {axis} is empty")
            walk[builder_axes[a]] = (begin, count, step)
            shape[a] = count
        return Value(self.builder.slice(x.tensor, walk, node.name), tuple(shape), x.layout)

    def _Constant(self, node, attrs):  # noqa: N802
        if "value" not in attrs:
            raise ValueError(f"node '{node.name}' (Constant): only tensor constants are supported")
        tensor = attrs.tensor("value")
        self.constants[node.output[0]] = tensor_array(tensor, f"node '{node.name}' (Constant)")
        return None


def _scaled(node, x: Value, scales) -> list:
    """The (N, C, H, W) sizes a Resize/Upsample's scales give."""
    scales = np.asarray(scales, np.float64).reshape(-1)
    if not np.all(np.isfinite(scales) & (scales > 0)):
        raise ValueError(f"node '{node.name}' ({node.op_type}): scales {scales.tolist()}")
    return [int(np.floor(d * s)) for d, s in zip((1, *x.shape), scales, strict=False)]


def _scalar(value, node, what: str) -> float:
    values = np.asarray(value, np.float64).reshape(-1)
    if values.size != 1 or not np.isfinite(values[0]):
        raise ValueError(f"node '{node.name}' ({node.op_type}): its {what} must be one number")
    return float(values[0])
