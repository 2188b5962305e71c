"""ONNX nodes -> float graph nodes (micronn.graph), turning channels-first to channels-last."""

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


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _attributes(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


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
            result = handler(node, _attributes(node))
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
        strides = list(attrs.get("strides", [1] * spatial))
        dilations = list(attrs.get("dilations", [1] * spatial))
        auto_pad = attrs.get("auto_pad", b"NOTSET")
        auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
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
            given = list(attrs.get("pads", [0] * 2 * spatial))
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
        x = self.value(node.input[0], node.name)
        self._image(node, x)
        weight = self.constant(node, 1).astype(np.float32)
        bias = self.constant(node, 2)
        signal = len(x.shape) == 2
        if signal:
            weight = weight[:, :, None, :]
        out_channels, group_inputs, kh, kw = weight.shape
        stride, dilation, pads, _ = self._window(node, attrs, x, [kw] if signal else [kh, kw])
        group = attrs.get("group", 1)
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
        x = self.value(node.input[0], node.name)
        self._image(node, x)
        if attrs.get("ceil_mode", 0) or any(d != 1 for d in attrs.get("dilations", [])):
            raise ValueError(
                f"node '{node.name}' ({node.op_type}): ceil_mode and dilations are not supported"
            )
        kernel = list(attrs["kernel_shape"])
        stride, _, pads, kernel = self._window(node, attrs, x, kernel)
        if op == "avg_pool" and attrs.get("count_include_pad", 0) and any(pads):
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
        return self._global(node, self.value(node.input[0], node.name))

    def _GlobalMaxPool(self, node, attrs):  # noqa: N802
        x = self.value(node.input[0], node.name)
        self._image(node, x)
        size = self.builder.shape(x.tensor)[:2]
        tensor = self.builder.pool("max_pool", x.tensor, size, size, name=node.name)
        spatial = len(x.shape) - 1
        return Value(tensor, (x.shape[0],) + (1,) * spatial, CHANNELS_LAST)

    def _ReduceMean(self, node, attrs):  # noqa: N802
        x = self.value(node.input[0], node.name)
        rank = len(x.shape) + 1
        axes = self._axes(node, attrs, rank)
        if x.layout == CHANNELS_LAST and axes == list(range(2, rank)):
            return self._global(node, x, bool(attrs.get("keepdims", 1)))
        return self._reduce("reduce_mean", node, attrs, x, axes)

    def _ReduceMax(self, node, attrs):  # noqa: N802
        x = self.value(node.input[0], node.name)
        return self._reduce("reduce_max", node, attrs, x, self._axes(node, attrs, len(x.shape) + 1))

    def _axes(self, node, attrs, rank) -> list:
        """The reduced axes of the batched ONNX tensor (attribute, or input 1 from opset 18);
        none given: every axis."""
        axes = attrs.get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            axes = self.constant(node, 1).tolist()
        if not axes:
            if attrs.get("noop_with_empty_axes", 0):
                raise ValueError(f"node '{node.name}' ({node.op_type}): reduces no axis")
            axes = range(rank)
        if any(not -rank <= int(a) < rank for a in axes):
            raise ValueError(f"node '{node.name}' ({node.op_type}): axes {list(axes)} out of range")
        return sorted({int(a) % rank for a in axes})

    def _reduce(self, op, node, attrs, x: Value, axes) -> Value:
        """reduce_max / reduce_mean over ONNX axes (batch 0 excluded) of a channels-last image
        or a tensor held as is. Without keepdims the kept axes must keep ONNX's order."""
        keepdims = bool(attrs.get("keepdims", 1))
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
        x = self.value(node.input[0], node.name)
        self._image(node, x)
        if len(x.shape) != 3:
            raise ValueError(f"node '{node.name}' (Resize) needs an (N, C, H, W) input")
        sizes = self.constant(node, 3)
        scales = self.constant(node, 2) if len(node.input) > 2 else self.constant(node, 1)
        if sizes is not None and sizes.size:
            out = [int(d) for d in sizes.reshape(-1)]
        elif scales is not None and scales.size:
            out = [
                int(np.floor(d * s))
                for d, s in zip((1, *x.shape), scales.reshape(-1), strict=False)
            ]
        else:
            raise ValueError(f"node '{node.name}' (Resize) has neither scales nor sizes")
        if out[:2] != [1, x.shape[0]]:
            raise ValueError(f"node '{node.name}' (Resize) resizes the batch or channel axis")
        mode = _text(attrs.get("mode", "nearest"))
        transform = _text(attrs.get("coordinate_transformation_mode", "half_pixel"))
        rounding = _text(attrs.get("nearest_mode", "round_prefer_floor"))
        return self._resize(node, x, out[2:], mode, transform, rounding)

    def _Upsample(self, node, attrs):  # noqa: N802
        x = self.value(node.input[0], node.name)
        self._image(node, x)
        scales = attrs.get("scales")
        scales = self.constant(node, 1) if scales is None else np.asarray(scales)
        out = [
            int(np.floor(d * s)) for d, s in zip((1, *x.shape), scales.reshape(-1), strict=False)
        ]
        if len(out) != 4 or out[:2] != [1, x.shape[0]]:
            raise ValueError(f"node '{node.name}' (Upsample) must resize H and W of (N, C, H, W)")
        mode = _text(attrs.get("mode", "nearest"))
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
        x = self.value(node.input[0], node.name)
        if attrs.get("transA", 0):
            raise ValueError(f"node '{node.name}' (Gemm): transA=1 is not supported")
        weight = self.constant(node, 1).astype(np.float32) * np.float32(attrs.get("alpha", 1.0))
        weight = weight if attrs.get("transB", 0) else weight.T
        bias = self.constant(node, 2)
        if bias is not None:
            bias = np.broadcast_to(
                bias.astype(np.float32) * attrs.get("beta", 1.0), weight.shape[:1]
            )
        return self._dense(node, x, weight, bias)

    def _MatMul(self, node, attrs):  # noqa: N802
        x = self.value(node.input[0], node.name)
        weight = self.constant(node, 1)
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
        x = self.value(node.input[0], node.name)
        tensor = self.builder.activation(x.tensor, kind, node.name)
        return Value(tensor, x.shape, x.layout, x.source)

    def _Relu(self, node, attrs):  # noqa: N802
        return self._activation(node, "relu")

    def _Clip(self, node, attrs):  # noqa: N802
        low = attrs.get("min")
        high = attrs.get("max")
        if len(node.input) > 1 and node.input[1]:
            low = float(self.constant(node, 1))
        if len(node.input) > 2 and node.input[2]:
            high = float(self.constant(node, 2))
        if low == 0 and high in (None, 6):
            return self._activation(node, "relu" if high is None else "relu6")
        low = None if low is None else float(low)
        high = None if high is None else float(high)
        return self._unary(node, "clip", low=low, high=high)

    def _LeakyRelu(self, node, attrs):  # noqa: N802
        return self._unary(node, "leaky_relu", alpha=float(attrs.get("alpha", 0.01)))

    def _HardSwish(self, node, attrs):  # noqa: N802
        return self._unary(node, "hard_swish")

    def _unary(self, node, op, **attrs):
        x = self.value(node.input[0], node.name)
        tensor = self.builder.unary(op, x.tensor, node.name, **attrs)
        return Value(tensor, x.shape, x.layout, x.source)

    def _Sigmoid(self, node, attrs):  # noqa: N802
        return self._unary(node, "logistic")

    def _Tanh(self, node, attrs):  # noqa: N802
        return self._unary(node, "tanh")

    def _Softmax(self, node, attrs):  # noqa: N802
        x = self.value(node.input[0], node.name)
        rank = len(x.shape) + 1
        axis = attrs.get("axis", -1) % rank
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
        if attrs.get("axis", 1) != 1:
            raise ValueError(f"node '{node.name}' (Flatten): only axis=1 is supported")
        return self._flatten(node, self.value(node.input[0], node.name))

    def _Reshape(self, node, attrs):  # noqa: N802
        x = self.value(node.input[0], node.name)
        target = [int(d) for d in self.constant(node, 1)][1:]
        target = [x.shape[i] if d == 0 and i < len(x.shape) else d for i, d in enumerate(target)]
        size = int(np.prod(x.shape))
        if -1 in target:
            known = int(np.prod([d for d in target if d != -1]))
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
        x = self.value(node.input[0], node.name)
        gamma, beta, mean, variance = (
            self.constant(node, i).astype(np.float64) for i in range(1, 5)
        )
        scale = gamma / np.sqrt(variance + attrs.get("epsilon", 1e-5))
        shift = beta - mean * scale
        tensor = self.builder.scale_shift(x.tensor, scale, shift, node.name)
        return Value(tensor, x.shape, x.layout, x.source)

    def _Identity(self, node, attrs):  # noqa: N802
        return self.value(node.input[0], node.name)

    def _Dropout(self, node, attrs):  # noqa: N802
        return self.value(node.input[0], node.name)

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
        axis = self._sample_axis(node, attrs["axis"], len(first.shape) + 1)
        builder_axis = self._builder_axes(node, first)[axis]
        tensor = self.builder.concat([x.tensor for x in xs], builder_axis, node.name)
        shape = list(first.shape)
        shape[axis] = sum(x.shape[axis] for x in xs)
        return Value(tensor, tuple(shape), first.layout)

    def _Transpose(self, node, attrs):  # noqa: N802
        x = self.value(node.input[0], node.name)
        rank = len(x.shape) + 1
        perm = list(attrs.get("perm", range(rank - 1, -1, -1)))
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
        x = self.value(node.input[0], node.name)
        mode = attrs.get("mode", b"constant")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        if mode != "constant":
            raise ValueError(f"node '{node.name}' (Pad): only mode 'constant' is supported")
        pads = self.constant(node, 1)
        pads = list(attrs.get("pads", [])) if pads is None else [int(v) for v in pads]
        value = self.constant(node, 2)
        value = float(attrs.get("value", 0.0)) if value is None else float(value.reshape(-1)[0])
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
        x = self.value(node.input[0], node.name)
        starts, ends = self.constant(node, 1), self.constant(node, 2)
        rank = len(x.shape) + 1
        axes = self.constant(node, 3)
        axes = list(range(len(starts))) if axes is None else [int(a) for a in axes]
        steps = self.constant(node, 4)
        steps = [1] * len(starts) if steps is None else [int(s) for s in steps]
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
        from onnx import numpy_helper

        if "value" not in attrs:
            raise ValueError(f"node '{node.name}' (Constant): only tensor constants are supported")
        self.constants[node.output[0]] = numpy_helper.to_array(attrs["value"])
        return None
