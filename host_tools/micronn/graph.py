"""The float graph: a trained model as importers produce it, before quantization.

Tensors are numbered; tensor shapes are of one sample, images as (height, width, channels).
Nodes are in evaluation order and each writes one tensor. Weight layouts follow TFLite's:
dense [out, in], conv2d OHWI [out, kh, kw, in], depthwise_conv2d [kh, kw, in * multiplier].
A 1-D convolution is a conv2d over a (1, width, channels) tensor.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from micronn import float_ops

# op -> number of inputs. Fused activations: the ops in FUSES_ACTIVATION.
FLOAT_OPS = {
    "dense": 1,
    "conv2d": 1,
    "depthwise_conv2d": 1,
    "max_pool": 1,
    "avg_pool": 1,
    "mean": 1,
    "resize": 1,
    "reduce_max": 1,
    "reduce_mean": 1,
    "add": 2,
    "logistic": 1,
    "tanh": 1,
    "softmax": 1,
    "reshape": 1,
    "relu": 1,
    "relu6": 1,
    "scale_shift": 1,
    "concat": 2,
    "transpose": 1,
    "pad": 1,
    "slice": 1,
    # int8 -> int8 functions of one input: a LOOKUP layer each (ops/unary.py)
    "hard_swish": 1,
    "leaky_relu": 1,  # attrs: alpha
    "clip": 1,  # attrs: low, high (either may be None)
    "relu_x": 1,  # Keras ReLU: attrs negative_slope, threshold, max_value (None: no maximum)
    "rescaling": 1,  # Keras Rescaling x * scale + offset: attrs scale, offset
    "constant": 0,
    "mul": 2,
    "sub": 2,
    "maximum": 2,
    "minimum": 2,
    "prelu": 2,
}
UNARY_TABLE_OPS = ("hard_swish", "leaky_relu", "clip", "relu_x", "relu", "relu6")
FUSES_ACTIVATION = (
    "dense",
    "conv2d",
    "depthwise_conv2d",
    "max_pool",
    "avg_pool",
    "add",
    "mul",
    "sub",
)
# element-wise ops of two tensors with NumPy broadcasting over the sample shapes; prelu is
# (x, alpha): x >= 0 ? x : x * alpha, with alpha broadcast to x's shape
BINARY_OPS = {
    "add": np.add,
    "mul": np.multiply,
    "sub": np.subtract,
    "maximum": np.maximum,
    "minimum": np.minimum,
    "prelu": lambda x, alpha: np.where(x >= 0, x, x * alpha),
}
WINDOW_OPS = ("conv2d", "depthwise_conv2d", "max_pool", "avg_pool")
# the most values one tensor may hold: 4 MiB as int8, twice the largest board heap (boards/) and
# 14x the largest zoo activation (palm_detection's 294,912), so a larger shape is a damaged file
# (and calibrating it would allocate gigabytes)
MAX_TENSOR_VALUES = 1 << 22
MAX_DIM = 0xFFFF  # the container's largest dimension, window size, stride and pad


def check_size(shape, what: str) -> None:
    """A tensor shape a container can hold: dims up to MAX_DIM, MAX_TENSOR_VALUES values."""
    if max(shape, default=1) > MAX_DIM:
        raise ValueError(
            f"{what}: a tensor of shape {tuple(shape)} has a dimension over {MAX_DIM}, the most "
            "a .mnq container holds; check the model's shapes"
        )
    values = math.prod(shape)
    if values > MAX_TENSOR_VALUES:
        raise ValueError(
            f"{what}: a tensor of shape {tuple(shape)} holds {values} values, more than micronn "
            f"converts ({MAX_TENSOR_VALUES}, far beyond a board's RAM); check the model's shapes"
        )


@dataclass
class Node:
    op: str
    inputs: tuple
    output: int
    name: str = ""
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    activation: str = "none"
    attrs: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.op} '{self.name}'" if self.name else self.op


@dataclass
class FloatGraph:
    """shapes[t] is tensor t's shape; `ranges` holds known (min, max) of tensors by id."""

    input_shape: tuple
    nodes: list
    shapes: list
    output: int
    input: int = 0
    ranges: dict = field(default_factory=dict)

    @property
    def input_size(self) -> int:
        return int(np.prod(self.input_shape))

    @property
    def output_shape(self) -> tuple:
        return tuple(self.shapes[self.output])

    def forward_all(self, x) -> list:
        """Every tensor's values for a batch of inputs: [tensor id] -> [batch, *shape]."""
        x = np.asarray(x, dtype=np.float32)
        if x.size % self.input_size or x.size == 0:
            raise ValueError(
                f"inputs of shape {x.shape} do not hold whole samples of shape {self.input_shape}"
            )
        values = [None] * len(self.shapes)
        values[self.input] = x.reshape(-1, *self.input_shape)
        batch = values[self.input].shape[0]
        for node in self.nodes:
            if node.op == "constant":  # the same value for every sample
                values[node.output] = np.broadcast_to(node.weight, (batch, *node.weight.shape))
                continue
            values[node.output] = run_node(node, [values[t] for t in node.inputs])
        return values

    def predict(self, x) -> np.ndarray:
        return self.forward_all(x)[self.output]


def broadcast_operands(a, b) -> tuple:
    """Two batches [batch, *shape] whose sample shapes broadcast as NumPy's, at one rank."""
    rank = max(a.ndim, b.ndim)
    return tuple(v.reshape(v.shape[0], *(1,) * (rank - v.ndim), *v.shape[1:]) for v in (a, b))


def run_node(node: Node, inputs: list) -> np.ndarray:
    a = node.attrs
    if node.op == "constant":
        return node.weight[np.newaxis]
    x = inputs[0]
    if node.op == "dense":
        y = float_ops.dense(x, node.weight, node.bias)
    elif node.op == "conv2d":
        y = float_ops.conv2d(x, node.weight, node.bias, a["stride"], a["dilation"], a["pads"])
    elif node.op == "depthwise_conv2d":
        y = float_ops.depthwise_conv2d(
            x, node.weight, node.bias, a["depth_multiplier"], a["stride"], a["dilation"], a["pads"]
        )
    elif node.op == "max_pool":
        y = float_ops.max_pool(x, a["size"], a["stride"], a["pads"])
    elif node.op == "avg_pool":
        y = float_ops.avg_pool(x, a["size"], a["stride"], a["pads"])
    elif node.op == "mean":
        y = float_ops.mean(x)
    elif node.op == "resize":
        y = float_ops.resize(x, a["size"], a["mode"], a["align_corners"], a["half_pixel_centers"])
    elif node.op in ("reduce_max", "reduce_mean"):
        axes = tuple(axis + 1 for axis in a["axes"])
        keep = a["keepdims"]
        if node.op == "reduce_max":
            y = x.max(axis=axes, keepdims=keep)
        else:
            y = x.mean(axis=axes, keepdims=keep, dtype=np.float32)
        y = y.reshape(x.shape[0], -1) if y.ndim == 1 else y  # every axis reduced: (1,)
    elif node.op in BINARY_OPS:
        y = BINARY_OPS[node.op](*broadcast_operands(x, inputs[1])).astype(np.float32)
    elif node.op == "reshape":
        y = x.reshape(x.shape[0], *a["shape"])
    elif node.op in ("relu", "relu6"):
        y = float_ops.activation(x, node.op)
    elif node.op == "scale_shift":
        y = x * node.weight + node.bias
    elif node.op in MOVERS:
        y = _move(node.op, a, x, inputs)
    elif node.op == "leaky_relu":
        y = float_ops.leaky_relu(x, a["alpha"])
    elif node.op == "clip":
        y = float_ops.clip(x, a["low"], a["high"])
    elif node.op == "relu_x":
        y = float_ops.relu_x(x, a["negative_slope"], a["threshold"], a["max_value"])
    elif node.op == "rescaling":
        y = float_ops.rescaling(x, a["scale"], a["offset"])
    else:
        y = getattr(float_ops, node.op)(x)
    return float_ops.activation(y, node.activation)


MOVERS = ("concat", "transpose", "pad", "slice")


def _move(op, a, x, inputs):
    """The data-movement nodes; their attrs count axes of one sample (no batch axis):
    concat axis; transpose perm; pad paddings [(before, after)] and value; slice walk
    [(start, count, step)]."""
    if op == "concat":
        return np.concatenate([x, inputs[1]], axis=1 + a["axis"])
    if op == "transpose":
        return x.transpose(0, *(1 + p for p in a["perm"]))
    if op == "pad":
        widths = [(0, 0), *(tuple(w) for w in a["paddings"])]
        return np.pad(x, widths, constant_values=np.float32(a["value"]))
    for axis, (start, count, step) in enumerate(a["walk"]):
        x = np.take(x, start + step * np.arange(count), axis=1 + axis)
    return x


def _mover_shape(node, in_shapes, fail) -> tuple:
    shape, a = tuple(in_shapes[0]), node.attrs
    if node.op == "concat":
        other, axis = tuple(in_shapes[1]), a["axis"]
        if len(other) != len(shape) or not 0 <= axis < len(shape):
            fail(f"cannot concatenate shapes {shape} and {other} on axis {axis}")
        if shape[:axis] + shape[axis + 1 :] != other[:axis] + other[axis + 1 :]:
            fail(f"shapes {shape} and {other} differ off the axis {axis}")
        return (*shape[:axis], shape[axis] + other[axis], *shape[axis + 1 :])
    if node.op == "transpose":
        if sorted(a["perm"]) != list(range(len(shape))):
            fail(f"perm {list(a['perm'])} is not a permutation of the dims of {shape}")
        return tuple(shape[p] for p in a["perm"])
    if node.op == "pad":
        paddings = [tuple(int(v) for v in w) for w in a["paddings"]]
        if len(paddings) != len(shape) or min(min(w) for w in paddings) < 0:
            fail(f"paddings {paddings} do not fit the shape {shape} (or crop)")
        return tuple(d + before + after for d, (before, after) in zip(shape, paddings, strict=True))
    walk = a["walk"]
    if len(walk) != len(shape):
        fail(f"a slice of shape {shape} needs one (start, count, step) per dim")
    for dim, (start, count, step) in zip(shape, walk, strict=True):
        if count < 1 or not (0 <= start < dim and 0 <= start + (count - 1) * step < dim):
            fail(f"the slice {walk} is empty or leaves the shape {shape}")
    return tuple(count for _, count, _ in walk)


def infer_shape(node: Node, in_shapes: list) -> tuple:
    """The output shape of one sample; ValueError naming the node if the inputs do not fit."""
    if node.op == "constant":
        return tuple(node.weight.shape)
    shape = tuple(in_shapes[0])
    a = node.attrs

    def fail(message):
        raise ValueError(f"{node.label}: {message}")

    if node.op == "dense":
        size = int(np.prod(shape))
        if node.weight.shape[1] != size:
            fail(f"takes {node.weight.shape[1]} inputs but receives {size} (shape {shape})")
        return (node.weight.shape[0],)
    if node.op in WINDOW_OPS:
        if len(shape) != 3:
            fail(f"needs a (height, width, channels) input, got shape {shape}")
        if node.op == "conv2d":
            kernel, channels = node.weight.shape[1:3], node.weight.shape[0]
            if node.weight.shape[3] != shape[2]:
                fail(f"weights take {node.weight.shape[3]} channels, input has {shape[2]}")
        elif node.op == "depthwise_conv2d":
            kernel, channels = node.weight.shape[:2], node.weight.shape[2]
            if channels != shape[2] * a["depth_multiplier"]:
                fail(f"{channels} output channels != {shape[2]} inputs x depth multiplier")
        else:
            kernel, channels = a["size"], shape[2]
        dilation = a.get("dilation", (1, 1))
        top, left, bottom, right = a["pads"]
        out_h = float_ops.window_output(
            shape[0], kernel[0], a["stride"][0], dilation[0], top, bottom
        )
        out_w = float_ops.window_output(
            shape[1], kernel[1], a["stride"][1], dilation[1], left, right
        )
        if out_h < 1 or out_w < 1:
            fail(f"the window {tuple(kernel)} does not fit the input {shape}")
        return (out_h, out_w, channels)
    if node.op == "mean":
        if len(shape) < 2:
            fail(f"global average pooling needs (..., channels) input, got shape {shape}")
        return (shape[-1],)
    if node.op == "resize":
        if len(shape) != 3:
            fail(f"needs a (height, width, channels) input, got shape {shape}")
        if a["mode"] not in ("nearest", "bilinear"):
            fail(f"unknown resize mode {a['mode']!r}")
        return (*(int(d) for d in a["size"]), shape[2])
    if node.op in ("reduce_max", "reduce_mean"):
        axes = a["axes"]
        if not axes or any(not 0 <= axis < len(shape) for axis in axes):
            fail(f"reduces axes {tuple(axes)} of a tensor of shape {shape}")
        kept = [1 if k in axes else d for k, d in enumerate(shape)]
        out = (
            tuple(kept) if a["keepdims"] else tuple(d for k, d in enumerate(shape) if k not in axes)
        )
        return out or (1,)
    if node.op in BINARY_OPS:
        other = tuple(in_shapes[1])
        try:
            out = tuple(int(d) for d in np.broadcast_shapes(shape, other))
        except ValueError:
            fail(f"shapes {shape} and {other} do not broadcast")
        if len(out) > 4:
            fail(f"broadcasts to {out}; micronn's element-wise operators take up to 4 dims")
        if node.op == "prelu" and out != shape:
            fail(f"alpha of shape {other} does not broadcast to the input's {shape}")
        return out
    if node.op in MOVERS:
        return _mover_shape(node, in_shapes, fail)
    if node.op == "reshape":
        target = tuple(int(d) for d in a["shape"])
        if int(np.prod(target)) != int(np.prod(shape)) or min(target, default=1) < 1:
            fail(f"cannot reshape {shape} to {target}")
        return target
    return shape
