"""A float .tflite (float32 activations) to a FloatGraph, which plan.quantize_network then
quantizes from calibration data, as it does Keras and ONNX models.

Weights may be float32, float16 behind a DEQUANTIZE, or int8 with scales ("dynamic range" or
hybrid quantization): all are dequantized to float32 here. Shape arithmetic and reshapes are
folded as in the int8 importer (plumbing.py).
"""

import numpy as np

from micronn.float_ops import same_pads
from micronn.graph import FloatGraph
from micronn.graph_builder import GraphBuilder
from micronn.importers.tflite.context import activation_view, describe
from micronn.importers.tflite.plumbing import SHAPE_OPS, VIEW_OPS, evaluate_shape_op, view_problem
from micronn.importers.tflite.reader import NO_INPUT
from micronn.ops.strided import slice_walk

FUSED = {"NONE": "none", "RELU": "relu", "RELU6": "relu6"}
UNARY = {"LOGISTIC": "logistic", "TANH": "tanh"}
POOLS = {"MAX_POOL_2D": "max_pool", "AVERAGE_POOL_2D": "avg_pool"}
BINARY = {
    "ADD": "add",
    "MUL": "mul",
    "SUB": "sub",
    "MAXIMUM": "maximum",
    "MINIMUM": "minimum",
    "PRELU": "prelu",
}


def is_float_model(graph) -> bool:
    """True when an operator other than QUANTIZE/DEQUANTIZE at the edges computes in float32."""
    for op in graph.operators:
        if op.name in ("QUANTIZE", "DEQUANTIZE"):
            continue
        for index in (*op.inputs, *op.outputs):
            tensor = graph.tensors[index] if index != NO_INPUT else None
            if tensor is not None and tensor.data is None and tensor.dtype == "FLOAT32":
                return True
    return False


def float_graph(graph) -> FloatGraph:
    """The FloatGraph of a reader.TfliteGraph that computes in float32; ValueError naming any
    operator or tensor that micronn cannot import."""
    return _FloatImport(graph).run()


def dequantized(tensor, values) -> np.ndarray:
    """float32 values of a float, float16 or quantized (int8 with scales) constant."""
    if tensor.quantized and tensor.dtype in ("INT8", "UINT8", "INT16", "INT32"):
        shape = [1] * values.ndim
        if tensor.scale.size > 1:
            shape[tensor.quantized_dimension] = -1
        scale, zero_point = tensor.scale.reshape(shape), tensor.zero_point.reshape(shape)
        return ((values.astype(np.float64) - zero_point) * scale).astype(np.float32)
    if tensor.dtype in ("FLOAT32", "FLOAT16", "FLOAT64"):
        return values.astype(np.float32)
    raise ValueError(f"constant '{tensor.name}' is {tensor.dtype} without scales")


class _FloatImport:
    def __init__(self, graph):
        self.graph = graph
        self.static = {t.index: t.data for t in graph.tensors if t.data is not None}
        self.ids = {}  # TFLite tensor index -> builder tensor id
        self.builder = None

    def fail(self, message) -> ValueError:
        return ValueError(f"{self.graph.name}: {message}")

    def op_error(self, op, message) -> ValueError:
        return self.fail(f"{describe(self.graph, op)} {message}")

    def run(self) -> FloatGraph:
        graph = self.graph
        if len(graph.inputs) != 1 or len(graph.outputs) != 1:
            raise self.fail(
                f"the model has {len(graph.inputs)} inputs and {len(graph.outputs)} outputs; "
                "micronn calibrates float models with exactly one input and one output "
                "(a full-integer int8 .tflite may have several)"
            )
        self.builder = GraphBuilder(self._input_shape(graph.tensors[graph.inputs[0]]))
        self.ids[graph.inputs[0]] = self.builder.input
        for op in graph.operators:
            try:
                self._import(op)
            except ValueError as error:
                if str(error).startswith(f"{graph.name}: "):
                    raise
                raise self.fail(str(error)) from None
        output = graph.outputs[0]
        if output not in self.ids:
            raise self.fail(
                f"no operator writes the output '{graph.tensors[output].name}'; re-export"
            )
        try:
            return self.builder.build(self.ids[output])
        except ValueError as error:
            raise self.fail(str(error)) from None

    def _input_shape(self, tensor) -> tuple:
        signature = tensor.shape_signature or tensor.shape
        if tensor.dtype != "FLOAT32":
            raise self.fail(f"the input '{tensor.name}' is {tensor.dtype}, not float32")
        if any(d < 0 for d in signature[1:]) or (len(tensor.shape) >= 2 and tensor.shape[0] != 1):
            raise self.fail(
                f"the input '{tensor.name}' has shape {list(signature)}; micronn needs a static "
                "shape with batch 1 (or a dynamic batch): export with a fixed input shape"
            )
        return activation_view(tensor.shape)

    # ------------------------------------------------------------ reading tensors

    def activation(self, op, position: int = 0) -> int:
        index = op.input(position)
        if index not in self.ids:
            what = "a constant" if index in self.static else "a tensor no supported op writes"
            raise self.op_error(
                op, f"reads {what} as input {position}; micronn needs a computed one"
            )
        return self.ids[index]

    def constant(self, op, position: int) -> np.ndarray | None:
        """float32 value of a constant input, None when the input is absent."""
        index = op.input(position)
        if index == NO_INPUT:
            return None
        if index not in self.static:
            raise self.op_error(op, f"needs a constant input {position}, computed at run time")
        try:
            return dequantized(self.graph.tensors[index], self.static[index])
        except ValueError as error:
            raise self.op_error(op, f"has a {error}; re-export it as float32") from None

    def weights(self, op, position: int = 1) -> np.ndarray:
        """The float32 value of a constant input the op cannot do without."""
        value = self.constant(op, position)
        if value is None or value.size == 0:
            raise self.op_error(op, f"lacks its constant input {position}; re-export it")
        return value

    def fused(self, op) -> str:
        fused = op.options.get("fused_activation_function", "NONE")
        if fused not in FUSED and fused != "TANH":
            raise self.op_error(
                op, f"has fused activation {fused}; micronn supports relu, relu6, tanh or none"
            )
        return FUSED.get(fused, "none")

    def pads(self, op, image: tuple, kernel, stride, dilation=(1, 1)) -> tuple:
        if op.options.get("padding", "VALID") != "SAME":
            return (0, 0, 0, 0)
        (top, bottom), (left, right) = (
            same_pads(image[axis], kernel[axis], stride[axis], dilation[axis]) for axis in (0, 1)
        )
        return (top, left, bottom, right)

    # ------------------------------------------------------------ writing tensors

    def output(self, op, tensor: int) -> None:
        """Map op's output to builder tensor `tensor`, reshaped to the stored shape; a fused
        TANH becomes a tanh node after it."""
        if op.options.get("fused_activation_function") == "TANH":
            tensor = self.builder.unary("tanh", tensor, self.name(op) + "/tanh")
        target = self.graph.tensors[op.outputs[0]]
        view, have = activation_view(target.shape), self.builder.shape(tensor)
        if int(np.prod(view)) != int(np.prod(have)):
            raise self.op_error(
                op, f"stores an output of shape {list(target.shape)} but computes {list(have)}"
            )
        self.ids[target.index] = self.builder.reshape(tensor, view, self.name(op) + "/view")

    def name(self, op) -> str:
        return self.graph.tensors[op.outputs[0]].name.split(";")[0]

    # ------------------------------------------------------------ operators

    def _import(self, op) -> None:
        if op.name in SHAPE_OPS and op.input(0) not in self.ids:
            try:
                value = evaluate_shape_op(op, self.static, self.graph.tensors)
            except (IndexError, ValueError, TypeError):
                value = None
            if value is None:
                raise self.op_error(op, "cannot be computed from the static shapes")
            self.static[op.outputs[0]] = value
            return
        handler = HANDLERS.get(op.name)
        if handler is None:
            names = ", ".join(sorted({*HANDLERS, *SHAPE_OPS} - {"DEQUANTIZE"}))
            raise self.op_error(
                op,
                f"is not supported in a float .tflite; micronn imports {names}; rebuild the "
                "model from those layers",
            )
        handler(self, op)

    def dequantize(self, op) -> None:
        if op.input(0) not in self.static:
            raise self.op_error(op, "dequantizes a computed tensor; export the model in float32")
        self.static[op.outputs[0]] = self.constant(op, 0)

    def view(self, op) -> None:
        source, target = op.input(0), self.graph.tensors[op.outputs[0]]
        if source in self.static:
            self.static[target.index] = np.reshape(self.static[source], target.shape)
            return
        problem = view_problem(op, self.graph.tensors[source].shape, target.shape, self.static)
        if problem:
            raise self.op_error(op, f"is not a pure reshape: it {problem}; re-export the model")
        self.output(op, self.activation(op))

    def fully_connected(self, op) -> None:
        if op.options.get("weights_format", 0) != 0:
            raise self.op_error(op, "uses shuffled weights; re-export with the default format")
        x, weight, bias = self.activation(op), self.weights(op, 1), self.constant(op, 2)
        received = int(np.prod(self.builder.shape(x)))
        if weight.ndim != 2 or weight.shape[1] != received:
            raise self.op_error(
                op,
                f"applies weights of shape {list(weight.shape)} to a {received}-value input; "
                "micronn runs one row per sample: add a Flatten (Reshape) before the Dense layer",
            )
        y = self.builder.dense(x, weight, bias, self.fused(op), self.name(op))
        self.output(op, y)

    def conv(self, op) -> None:
        x, weight, bias = self.activation(op), self.weights(op, 1), self.constant(op, 2)
        image = self.builder.shape(x)
        if len(image) != 3 or weight.ndim != 4:
            raise self.op_error(op, f"convolves shape {list(image)}; expected [1, H, W, C]")
        o = op.options
        stride = (o.get("stride_h", 1), o.get("stride_w", 1))
        dilation = (o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1))
        b = self.builder
        if op.name == "CONV_2D":
            if weight.shape[3] != image[2]:
                raise self.op_error(
                    op,
                    f"is a grouped convolution ({image[2]} input channels, {weight.shape[3]} per "
                    "filter), which micronn does not support; use groups=1 or a DepthwiseConv2D",
                )
            pads = self.pads(op, image, weight.shape[1:3], stride, dilation)
            y = b.conv2d(x, weight, bias, stride, dilation, pads, self.fused(op), self.name(op))
        else:
            if weight.shape[0] != 1:
                raise self.op_error(op, f"has weights {list(weight.shape)}; expected [1, H, W, C]")
            pads = self.pads(op, image, weight.shape[1:3], stride, dilation)
            multiplier = weight.shape[3] // image[2]
            y = b.depthwise_conv2d(
                x,
                weight[0],
                bias,
                multiplier,
                stride,
                dilation,
                pads,
                self.fused(op),
                self.name(op),
            )
        self.output(op, y)

    def pool(self, op) -> None:
        x, o = self.activation(op), op.options
        image = self.builder.shape(x)
        size = (o.get("filter_height", 1), o.get("filter_width", 1))
        stride = (o.get("stride_h", 1), o.get("stride_w", 1))
        if len(image) != 3:
            raise self.op_error(op, f"pools shape {list(image)}; expected [1, H, W, C]")
        pads = self.pads(op, image, size, stride)
        y = self.builder.pool(POOLS[op.name], x, size, stride, pads, self.fused(op), self.name(op))
        self.output(op, y)

    def mean(self, op) -> None:
        x = self.activation(op)
        shape = tuple(self.graph.tensors[op.input(0)].shape)
        rank = len(shape)
        axes = {int(a) % rank for a in np.asarray(self.static.get(op.input(1), [])).reshape(-1)}
        kept = [a for a in range(1, rank - 1) if a not in axes and shape[a] != 1]
        if rank not in (3, 4) or (rank - 1 in axes and shape[-1] != 1) or kept:
            self.reduce(op)  # any other axes: a reduce_mean (MEAN_AXES)
            return
        self.output(op, self.builder.mean(x, self.name(op)))

    def reduce(self, op) -> None:
        """MEAN over other axes than the spatial ones, REDUCE_MAX: axes of the batched tensor
        mapped onto the sample's shape (activation_view), the output reshaped to TFLite's view."""
        x = self.activation(op)
        shape = tuple(self.graph.tensors[op.input(0)].shape)
        target = self.graph.tensors[op.outputs[0]]
        rank = len(shape)
        if op.input(1) not in self.static:
            raise self.op_error(op, "reduces axes computed at run time; make them constant")
        axes = np.asarray(self.static[op.input(1)]).reshape(-1)
        if any(not -rank <= int(a) < rank for a in axes):
            raise self.op_error(op, f"reduces axes {axes.tolist()} of a {rank}-D tensor")
        axes = {int(a) % rank for a in axes}
        keep = bool(op.options.get("keep_dims", False))
        if rank >= 2 and 0 in axes and not keep and len(target.shape) >= 2:
            raise self.op_error(op, "reduces the batch axis away; reduce other axes or keep_dims")
        # the sample's view drops the batch of a 2-D or 4-D tensor; a 3-D one keeps a 1 there
        offset = 1 if rank in (2, 4) else 0
        sample_axes = sorted({a - offset for a in axes if a - offset >= 0})
        kind = "reduce_max" if op.name == "REDUCE_MAX" else "reduce_mean"
        if not sample_axes:
            y = x
        else:
            y = self.builder.reduce(kind, x, sample_axes, True, self.name(op))
        self.output(op, self.builder.reshape(y, activation_view(target.shape), self.name(op)))

    def resize(self, op) -> None:
        x = self.activation(op)
        image = self.builder.shape(x)
        if len(image) != 3:
            raise self.op_error(op, f"resizes shape {list(image)}; expected [1, H, W, C]")
        if op.input(1) not in self.static:
            raise self.op_error(op, "resizes to a size computed at run time; make it constant")
        size = [int(d) for d in np.asarray(self.static[op.input(1)]).reshape(-1)]
        mode = "nearest" if op.name == "RESIZE_NEAREST_NEIGHBOR" else "bilinear"
        o = op.options
        y = self.builder.resize(
            x,
            size,
            mode,
            bool(o.get("align_corners", False)),
            bool(o.get("half_pixel_centers", False)),
            self.name(op),
        )
        self.output(op, y)

    def operand(self, op, position: int, other: int) -> int:
        """A computed input, or a constant one as a constant node shaped as one sample of the
        computed operand `other` (the batch dropped, the activation view's rank)."""
        index = op.input(position)
        if index in self.ids or index not in self.static:
            return self.activation(op, position)
        value = self.constant(op, position)
        rank = len(self.graph.tensors[op.input(other)].shape)
        if value.ndim > rank or (value.ndim == rank and value.shape[0] != 1):
            raise self.op_error(
                op, f"has a constant operand of shape {list(value.shape)} with a batch other than 1"
            )
        value = value.reshape((1,) * (rank - value.ndim) + value.shape)
        sample = activation_view((1, *value.shape[1:])) if rank > 1 else value.shape
        return self.builder.constant(value.reshape(sample), f"{self.name(op)}/constant{position}")

    def binary(self, op) -> None:
        """ADD, MUL, SUB, MAXIMUM, MINIMUM, PRELU with broadcasting; one operand may be constant."""
        if op.input(0) not in self.ids and op.input(1) not in self.ids:
            raise self.op_error(op, "has no computed input; micronn needs one")
        computed = 0 if op.input(0) in self.ids else 1
        a = self.operand(op, 0, computed)
        b = self.operand(op, 1, computed)
        fused = self.fused(op) if op.name in ("ADD", "MUL", "SUB") else "none"
        self.output(op, self.builder.binary(BINARY[op.name], a, b, fused, self.name(op)))

    def softmax(self, op) -> None:
        beta = op.options.get("beta", 1.0)
        if beta != 1.0:
            raise self.op_error(op, f"has beta {beta}; micronn's softmax has beta 1")
        self.output(op, self.builder.unary("softmax", self.activation(op), self.name(op)))

    def unary(self, op) -> None:
        self.output(op, self.builder.unary(UNARY[op.name], self.activation(op), self.name(op)))

    # the data movers: TFLite counts axes with the batch; micronn's view of a 3-D [1, W, C]
    # tensor is (1, W, C), of the others the shape without the batch

    def _sample(self, op, index=None) -> tuple:
        """(rank with the batch, the view's leading dims of 1 that TFLite's sample lacks)."""
        rank = len(self.graph.tensors[op.input(0) if index is None else index].shape)
        return rank, 1 if rank == 3 else 0

    def _no_batch(self, op, moves_batch: bool) -> None:
        if moves_batch:
            raise self.op_error(op, "moves data across the batch axis; micronn runs batch 1")

    def concatenation(self, op) -> None:
        rank, lead = self._sample(op)
        axis = int(op.options.get("axis", 0)) % rank
        self._no_batch(op, axis == 0)
        inputs = [self.activation(op, k) for k in range(len(op.inputs))]
        if self.fused(op) != "none":
            raise self.op_error(op, "has a fused activation, which TFLM refuses here")
        self.output(op, self.builder.concat(inputs, axis - 1 + lead, self.name(op)))

    def transpose(self, op) -> None:
        rank, lead = self._sample(op)
        perm = [int(p) for p in np.asarray(self.static_input(op, 1)).reshape(-1)]
        self._no_batch(op, perm[:1] != [0])
        view_perm = list(range(lead)) + [p - 1 + lead for p in perm[1:]]
        self.output(op, self.builder.transpose(self.activation(op), view_perm, self.name(op)))

    def pad(self, op) -> None:
        rank, lead = self._sample(op)
        paddings = np.asarray(self.static_input(op, 1)).reshape(-1, 2).tolist()
        self._no_batch(op, len(paddings) != rank or any(paddings[0]))
        value = 0.0
        if op.name == "PADV2" and op.input(2) != NO_INPUT:
            value = float(self.weights(op, 2).reshape(-1)[0])
        view = [(0, 0)] * lead + [tuple(p) for p in paddings[1:]]
        self.output(op, self.builder.pad(self.activation(op), view, value, self.name(op)))

    def slice(self, op) -> None:
        rank, lead = self._sample(op)
        shape = self.graph.tensors[op.input(0)].shape
        if op.name == "SLICE":
            begin, size = (np.asarray(self.static_input(op, k)).reshape(-1) for k in (1, 2))
            walk = [
                (int(b), int(d - b if n == -1 else n), 1)
                for b, n, d in zip(begin, size, shape, strict=False)
            ]
        else:
            begin, end, strides = (np.asarray(self.static_input(op, k)) for k in (1, 2, 3))
            masks = (op.options.get(m, 0) for m in ("begin_mask", "end_mask", "shrink_axis_mask"))
            walk = slice_walk(shape, begin, end, strides, *masks)
        self._no_batch(op, len(walk) != rank or walk[0][:2] != (0, 1))
        view = [(0, 1, 1)] * lead + list(walk[1:])
        self.output(op, self.builder.slice(self.activation(op), view, self.name(op)))

    def static_input(self, op, position: int) -> np.ndarray:
        index = op.input(position)
        if index not in self.static:
            raise self.op_error(op, f"needs a constant input {position}, computed at run time")
        return self.static[index]

    def table_unary(self, op) -> None:
        """HARD_SWISH, LEAKY_RELU, RELU_N1_TO_1: int8 LOOKUP layers once quantized."""
        x, name = self.activation(op), self.name(op)
        if op.name == "HARD_SWISH":
            tensor = self.builder.unary("hard_swish", x, name)
        elif op.name == "LEAKY_RELU":
            tensor = self.builder.unary("leaky_relu", x, name, alpha=op.options.get("alpha", 0.0))
        else:
            tensor = self.builder.unary("clip", x, name, low=-1.0, high=1.0)
        self.output(op, tensor)

    def relu(self, op) -> None:
        kind = op.name.lower()
        self.output(op, self.builder.activation(self.activation(op), kind, self.name(op)))


HANDLERS = {
    "DEQUANTIZE": _FloatImport.dequantize,
    "FULLY_CONNECTED": _FloatImport.fully_connected,
    "CONV_2D": _FloatImport.conv,
    "DEPTHWISE_CONV_2D": _FloatImport.conv,
    **dict.fromkeys(BINARY, _FloatImport.binary),
    "MEAN": _FloatImport.mean,
    "REDUCE_MAX": _FloatImport.reduce,
    "RESIZE_NEAREST_NEIGHBOR": _FloatImport.resize,
    "RESIZE_BILINEAR": _FloatImport.resize,
    "SOFTMAX": _FloatImport.softmax,
    "RELU": _FloatImport.relu,
    "RELU6": _FloatImport.relu,
    "CONCATENATION": _FloatImport.concatenation,
    "TRANSPOSE": _FloatImport.transpose,
    "PAD": _FloatImport.pad,
    "PADV2": _FloatImport.pad,
    "SLICE": _FloatImport.slice,
    "STRIDED_SLICE": _FloatImport.slice,
    "HARD_SWISH": _FloatImport.table_unary,
    "LEAKY_RELU": _FloatImport.table_unary,
    "RELU_N1_TO_1": _FloatImport.table_unary,
    **dict.fromkeys(VIEW_OPS, _FloatImport.view),
    **dict.fromkeys(POOLS, _FloatImport.pool),
    **dict.fromkeys(UNARY, _FloatImport.unary),
}
