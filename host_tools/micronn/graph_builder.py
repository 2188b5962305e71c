"""GraphBuilder: how importers assemble a FloatGraph (micronn.graph), node by node.

Each method adds one node in evaluation order and returns the id of the tensor it writes.
build() folds standalone relu/relu6 and scale_shift (batch normalization) nodes into the
layer before them where possible and numbers the tensors in evaluation order.
"""

import numpy as np

from micronn.graph import (
    FLOAT_OPS,
    FUSES_ACTIVATION,
    MAX_DIM,
    FloatGraph,
    Node,
    check_size,
    infer_shape,
)
from micronn.tflite_int8 import ACTIVATIONS


class GraphBuilder:
    """Importers add nodes in evaluation order; each method returns the new tensor's id."""

    def __init__(self, input_shape, input_range=None):
        self.input_shape = tuple(int(d) for d in input_shape)
        if not self.input_shape or min(self.input_shape) < 1:
            raise ValueError(f"the input shape {self.input_shape} must be static and non-empty")
        check_size(self.input_shape, "the input")
        self.shapes = [self.input_shape]
        self.nodes = []
        self.ranges = {} if input_range is None else {0: tuple(input_range)}

    @property
    def input(self) -> int:
        return 0

    def shape(self, tensor: int) -> tuple:
        return self.shapes[tensor]

    def add_node(self, op, inputs, name="", weight=None, bias=None, activation="none", **attrs):
        if op not in FLOAT_OPS:
            raise ValueError(f"unknown float op {op!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"{op} '{name}': activation {activation!r} is not one of {ACTIVATIONS}"
            )
        if activation != "none" and op not in FUSES_ACTIVATION:
            raise ValueError(f"{op} '{name}' cannot carry a fused {activation}")
        inputs = tuple(int(t) for t in inputs)
        if len(inputs) != FLOAT_OPS[op]:
            raise ValueError(f"{op} '{name}' takes {FLOAT_OPS[op]} input(s), got {len(inputs)}")
        node = Node(op, inputs, len(self.shapes), name, _f32(weight), _f32(bias), activation, attrs)
        _check_weights(node)
        shape = infer_shape(node, [self.shapes[t] for t in inputs])
        check_size(shape, node.label)
        self.shapes.append(shape)
        self.nodes.append(node)
        return node.output

    def dense(self, x, weight, bias=None, activation="none", name=""):
        weight, bias = _weight_and_bias(weight, bias, channel_axis=0)
        return self.add_node("dense", (x,), name, weight, bias, activation)

    def conv2d(
        self,
        x,
        weight,
        bias=None,
        stride=(1, 1),
        dilation=(1, 1),
        pads=(0, 0, 0, 0),
        activation="none",
        name="",
    ):
        weight, bias = _weight_and_bias(weight, bias, channel_axis=0)
        attrs = _window_attrs(stride, dilation, pads)
        return self.add_node("conv2d", (x,), name, weight, bias, activation, **attrs)

    def depthwise_conv2d(
        self,
        x,
        weight,
        bias=None,
        depth_multiplier=1,
        stride=(1, 1),
        dilation=(1, 1),
        pads=(0, 0, 0, 0),
        activation="none",
        name="",
    ):
        weight, bias = _weight_and_bias(weight, bias, channel_axis=2)
        attrs = _window_attrs(stride, dilation, pads, depth_multiplier=int(depth_multiplier))
        return self.add_node("depthwise_conv2d", (x,), name, weight, bias, activation, **attrs)

    def pool(self, op, x, size, stride=None, pads=(0, 0, 0, 0), activation="none", name=""):
        size = _pair(size)
        attrs = {"size": size, "stride": _pair(stride or size), "pads": _pads(pads)}
        return self.add_node(op, (x,), name, activation=activation, **attrs)

    def mean(self, x, name=""):
        return self.add_node("mean", (x,), name)

    def resize(self, x, size, mode, align_corners=False, half_pixel_centers=False, name=""):
        """TFLite's RESIZE_NEAREST_NEIGHBOR (mode "nearest") or RESIZE_BILINEAR ("bilinear")."""
        attrs = {
            "size": tuple(int(d) for d in size),
            "mode": mode,
            "align_corners": bool(align_corners),
            "half_pixel_centers": bool(half_pixel_centers),
        }
        return self.add_node("resize", (x,), name, **attrs)

    def reduce(self, op, x, axes, keepdims=False, name=""):
        """reduce_max or reduce_mean over `axes` of one sample's shape."""
        rank = len(self.shapes[x])
        axes = tuple(sorted({int(a) % rank for a in axes})) if rank else ()
        return self.add_node(op, (x,), name, axes=axes, keepdims=bool(keepdims))

    def add(self, a, b, activation="none", name=""):
        return self.add_node("add", (a, b), name, activation=activation)

    def binary(self, op, a, b, activation="none", name=""):
        """An element-wise op of two tensors with broadcasting (graph.BINARY_OPS): add, mul,
        sub, maximum, minimum, prelu (a: x, b: alpha)."""
        return self.add_node(op, (a, b), name, activation=activation)

    def constant(self, value, name=""):
        """A tensor of one value for every sample (a constant operand of a binary op)."""
        value = _f32(value)
        if value.ndim == 0:
            value = value.reshape(1)
        if not np.all(np.isfinite(value)):
            raise ValueError(f"constant '{name}' contains NaN or inf")
        return self.add_node("constant", (), name, weight=value)

    def unary(self, op, x, name="", **attrs):
        return self.add_node(op, (x,), name, **attrs)

    def rescaling(self, x, scale, offset, name=""):
        """x * scale + offset (Keras Rescaling, one scale and offset for every value). build()
        keeps it as the graph's first node when it alone reads the input, so that
        plan.quantize_network folds it into the input's quantization; anywhere else it becomes
        a scale_shift (folded into the layer before it, or a layer of its own)."""
        return self.add_node("rescaling", (x,), name, scale=float(scale), offset=float(offset))

    def reshape(self, x, shape, name=""):
        shape = tuple(int(d) for d in shape)
        if shape == self.shapes[x]:
            return x
        return self.add_node("reshape", (x,), name, shape=shape)

    def concat(self, inputs, axis, name=""):
        """Tensors joined along `axis` of one sample (negative counts from the end), as a
        chain of two-input nodes."""
        axis = int(axis) % len(self.shapes[inputs[0]])
        total = inputs[0]
        for other in inputs[1:]:
            total = self.add_node("concat", (total, other), name, axis=axis)
        return total

    def transpose(self, x, perm, name=""):
        perm = tuple(int(p) for p in perm)
        if perm == tuple(range(len(perm))):
            return x
        return self.add_node("transpose", (x,), name, perm=perm)

    def pad(self, x, paddings, value=0.0, name=""):
        paddings = tuple((int(a), int(b)) for a, b in paddings)
        if not any(a or b for a, b in paddings):
            return x
        return self.add_node("pad", (x,), name, paddings=paddings, value=float(value))

    def slice(self, x, walk, name=""):
        """walk: (start, count, step) per dim of one sample."""
        walk = tuple((int(s), int(c), int(t)) for s, c, t in walk)
        if all(
            s == 0 and t == 1 and c == d for (s, c, t), d in zip(walk, self.shapes[x], strict=True)
        ):
            return x
        return self.add_node("slice", (x,), name, walk=walk)

    def scale_shift(self, x, scale, shift, name=""):
        """x * scale + shift per channel (last axis), e.g. batch normalization at inference.

        build() folds it into the dense or convolution before it, or else makes it a 1x1
        depthwise convolution (images) or a diagonal dense layer (vectors)."""
        channels = self.shapes[x][-1]
        scale, shift = _f32(scale).reshape(-1), _f32(shift).reshape(-1)
        if scale.shape != (channels,) or shift.shape != (channels,):
            raise ValueError(f"scale_shift '{name}': needs {channels} scales and shifts")
        if not (np.all(np.isfinite(scale)) and np.all(np.isfinite(shift))):
            raise ValueError(f"scale_shift '{name}': its scales or shifts are NaN or inf")
        return self.add_node("scale_shift", (x,), name, scale, shift)

    def activation(self, x, kind, name=""):
        """relu / relu6 after tensor x; build() fuses it into x's producer."""
        if kind == "none":
            return x
        if kind not in ACTIVATIONS:
            raise ValueError(
                f"activation '{name or kind}': {kind!r} is not supported; micronn supports "
                f"{', '.join(ACTIVATIONS)}, logistic (sigmoid), tanh and softmax"
            )
        return self.add_node(kind, (x,), name)

    def set_range(self, tensor: int, value_range) -> None:
        self.ranges[tensor] = tuple(float(v) for v in value_range)

    def build(self, output: int) -> FloatGraph:
        """The graph with scale_shift and relu/relu6 folded, tensors numbered in node order."""
        nodes, output = _fold(self.nodes, output, self.shapes)
        if not nodes:
            raise ValueError("the model has no layers")
        ids = {0: 0}
        for node in nodes:
            ids[node.output] = len(ids)
        shapes = [self.shapes[old] for old in ids]
        for node in nodes:
            node.inputs = tuple(ids[t] for t in node.inputs)
            node.output = ids[node.output]
        ranges = {ids[t]: r for t, r in self.ranges.items() if t in ids}
        return FloatGraph(self.input_shape, nodes, shapes, ids[output], 0, ranges)


def _fold(nodes: list, output: int, shapes: list) -> tuple:
    """Fold relu/relu6 and scale_shift nodes into the node that writes their input."""
    kept, alias, folded = [], {}, set()
    for original in nodes:
        original.inputs = tuple(alias.get(t, t) for t in original.inputs)
        if not original.inputs:  # a constant
            kept.append(original)
            continue
        source, node = original.inputs[0], original
        if node.op == "rescaling" and (source != 0 or node.attrs["scale"] <= 0):
            node = _rescaling_as_scale_shift(node, shapes[source])
        if node.op not in ("relu", "relu6", "scale_shift"):
            kept.append(node)
            continue
        producer = next((n for n in kept if n.output == source), None)
        readers = [
            n
            for n in nodes
            if n is not original
            and id(n) not in folded
            and source in (alias.get(t, t) for t in n.inputs)
        ]
        alone = alias.get(output, output) != source and not readers
        folded.add(id(original))
        if node.op == "scale_shift":
            if alone and producer is not None and _fold_scale_shift(producer, node):
                alias[node.output] = source
            else:
                folded.discard(id(original))
                kept.append(_scale_shift_layer(node, shapes[source]))
            continue
        if not alone or producer is None or producer.op not in FUSES_ACTIVATION:
            folded.discard(id(original))
            kept.append(node)  # a standalone relu / relu6: a LOOKUP layer of its own
            continue
        producer.activation = "relu6" if "relu6" in (producer.activation, node.op) else "relu"
        alias[node.output] = source
    return kept, alias.get(output, output)


def _fold_scale_shift(producer: Node, node: Node) -> bool:
    if producer.activation != "none" or producer.op not in ("dense", "conv2d", "depthwise_conv2d"):
        return False
    scale = node.weight
    if producer.op == "dense":
        producer.weight = producer.weight * scale[:, None]
    elif producer.op == "conv2d":
        producer.weight = producer.weight * scale[:, None, None, None]
    else:
        producer.weight = producer.weight * scale
    producer.bias = producer.bias * scale + node.bias
    return True


def _rescaling_as_scale_shift(node: Node, shape: tuple) -> Node:
    channels = shape[-1]
    scale = np.full(channels, node.attrs["scale"], np.float32)
    offset = np.full(channels, node.attrs["offset"], np.float32)
    return Node("scale_shift", node.inputs, node.output, node.name, scale, offset)


def rescaling_layer(node: Node, shape: tuple) -> Node:
    """A rescaling node as the layer that computes it (when it cannot fold into the input)."""
    return _scale_shift_layer(_rescaling_as_scale_shift(node, shape), shape)


def _scale_shift_layer(node: Node, shape: tuple) -> Node:
    if len(shape) == 1:
        weight, op, attrs = np.diag(node.weight), "dense", {}
    elif len(shape) == 3:
        weight, op = node.weight.reshape(1, 1, -1), "depthwise_conv2d"
        attrs = {"stride": (1, 1), "dilation": (1, 1), "pads": (0, 0, 0, 0), "depth_multiplier": 1}
    else:
        raise ValueError(f"{node.label}: cannot apply a per-channel scale to shape {shape}")
    return Node(op, node.inputs, node.output, node.name, weight, node.bias, "none", attrs)


def _f32(array):
    if array is None:
        return None
    with np.errstate(over="ignore", invalid="ignore"):  # inf and NaN are refused by name
        return np.ascontiguousarray(array, dtype=np.float32)


def _weight_and_bias(weight, bias, channel_axis: int):
    """float32 weights and the bias, zeros (one per output channel) when bias is None."""
    weight = _f32(weight)
    return weight, np.zeros(weight.shape[channel_axis], np.float32) if bias is None else bias


def _window_attrs(stride, dilation, pads, **more) -> dict:
    return {"stride": _pair(stride), "dilation": _pair(dilation), "pads": _pads(pads), **more}


def _pair(value) -> tuple:
    """A window size, stride or dilation: two values in 1..MAX_DIM."""
    pair = (int(value), int(value)) if np.isscalar(value) else tuple(int(v) for v in value)
    if len(pair) != 2 or not all(1 <= v <= MAX_DIM for v in pair):
        raise ValueError(
            f"a window size, stride or dilation must be 2 values in 1..{MAX_DIM}, got {pair}"
        )
    return pair


def _pads(pads) -> tuple:
    pads = tuple(int(p) for p in pads)
    if len(pads) != 4 or not all(0 <= p <= MAX_DIM for p in pads):
        raise ValueError(f"pads must be (top, left, bottom, right) in 0..{MAX_DIM}, got {pads}")
    return pads


def _check_weights(node: Node) -> None:
    expected = {"dense": 2, "conv2d": 4, "depthwise_conv2d": 3}.get(node.op)
    if expected is None:
        return
    if node.weight is None or node.weight.ndim != expected:
        shape = None if node.weight is None else node.weight.shape
        raise ValueError(f"{node.label}: weights must have {expected} dims, got shape {shape}")
    channels = node.weight.shape[2 if node.op == "depthwise_conv2d" else 0]
    if node.bias.shape != (channels,):
        raise ValueError(f"{node.label}: bias must have {channels} entries, got {node.bias.shape}")
    for name, array in (("weights", node.weight), ("bias", node.bias)):
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{node.label}: {name} contain NaN or inf; fix the trained model")
