"""What an operator builder sees: TFLite tensors, constants, activation ids, and layer wiring.

A builder is `function(ctx, op) -> Layer | list[Layer]` registered with
`graph.register("OP_NAME")`; `op` is a reader.OperatorInfo (op.index, op.name, op.inputs,
op.outputs, op.options, op.input(k) -> tensor index or -1). The builder reads what it needs
through `ctx`, computes the integer plan as TFLM's Prepare does, and returns the layer(s)
made with `ctx.new_layer` or wired with `ctx.connect`, in evaluation order.
"""

import numpy as np

from micronn import tflite_int8
from micronn.importers.tflite.reader import NO_INPUT, OperatorInfo, TensorInfo
from micronn.importers.tflite.weights import QuantizedWeights, requantize_weights
from micronn.model import Layer
from micronn.ops.constant import prepare_constant

FUSED_ACTIVATIONS = {"NONE": "none", "RELU": "relu", "RELU6": "relu6"}
MAX_RANK = 4
STATIC_SHAPE_ADVICE = "export the model with a fixed input shape (batch may stay dynamic)"


def activation_view(shape) -> tuple:
    """The micronn shape of a TFLite activation: batch dropped, images (H, W, C), 1-D
    sequences [N, W, C] as (1, W, C) (the CONV_2D view of a Conv1D), vectors (F,)."""
    shape = tuple(int(d) for d in shape)
    if len(shape) <= 1:
        return shape or (1,)
    if len(shape) == 3:
        return (1, *shape[1:])
    return shape[1:]


class BuildContext:
    """The builder API. Tensor indices are TFLite's; activation ids are micronn's."""

    def __init__(self, graph, weight_bits: int = 8):
        self.graph = graph
        self.weight_bits = weight_bits
        self.shapes = []  # micronn shape of each activation id
        self._ids = {}  # TFLite tensor index -> activation id
        # constants, and values folded at import (shape arithmetic, reshaped constants)
        self.static = {t.index: t.data for t in graph.tensors if t.data is not None}
        self.folded = set()  # operator indices folded into the layers after them (PADs)

    # ---------------------------------------------------------------- reading tensors

    def tensor(self, index: int) -> TensorInfo:
        """The TFLite tensor: name, dtype, shape (batch included), scale, zero_point,
        quantized_dimension, data (None unless constant)."""
        if not 0 <= index < len(self.graph.tensors):  # NO_INPUT must not read the last one
            raise ValueError(
                f"{self.graph.name}: an operator reads tensor {index}, which does not exist "
                "(an absent input where one is needed); re-export the model"
            )
        return self.graph.tensors[index]

    def constant(self, op: OperatorInfo, index: int) -> np.ndarray:
        """The numpy value of a constant input tensor, or of one folded at import (a reshaped
        constant, shape arithmetic); raises if it is computed at run time."""
        if index == NO_INPUT or index not in self.static:
            what = "an absent input" if index == NO_INPUT else f"'{self.tensor(index).name}'"
            raise self.error(op, f"expects a constant tensor but {what} is computed at run time")
        return self.static[index]

    def activation_id(self, index: int) -> int:
        """The micronn activation id of an int8 tensor written earlier (or the model input)."""
        if index not in self._ids:
            raise ValueError(
                f"{self.graph.name}: tensor '{self.tensor(index).name}' is read before any "
                "supported operator writes it"
            )
        return self._ids[index]

    def activation_shape(self, index: int) -> tuple:
        """The micronn view of TFLite tensor `index`: see activation_view()."""
        return activation_view(self.tensor(index).shape)

    def quantization(self, index: int) -> tuple:
        """(scale, zero_point) of a per-tensor int8 activation, as Python float and int."""
        tensor = self.tensor(index)
        if tensor.dtype != "INT8" or tensor.scale.size != 1:
            raise ValueError(
                f"{self.graph.name}: tensor '{tensor.name}' must be int8 with one scale and "
                f"zero point, got {tensor.dtype} with {tensor.scale.size} scales"
            )
        scale = float(tensor.scale[0])
        if not (np.isfinite(scale) and scale > 0) or not -128 <= tensor.zero_point[0] <= 127:
            raise ValueError(
                f"{self.graph.name}: tensor '{tensor.name}' has scale {scale} and zero point "
                f"{int(tensor.zero_point[0])}; int8 needs a positive scale and a zero point in "
                "[-128, 127] (the file is damaged: re-export the model)"
            )
        return scale, int(tensor.zero_point[0])

    def fused_activation(self, op: OperatorInfo) -> tuple:
        """(activation, act_min, act_max) from the op's fused_activation_function option and
        its output parameters (CalculateActivationRangeQuantized)."""
        fused = op.options.get("fused_activation_function", "NONE")
        if fused not in FUSED_ACTIVATIONS:
            raise self.error(
                op,
                f"has fused activation {fused}, which micronn does not support; "
                "use relu, relu6 or none (apply other activations as separate layers)",
            )
        activation = FUSED_ACTIVATIONS[fused]
        scale, zero_point = self.quantization(op.outputs[0])
        try:
            return (activation, *tflite_int8.activation_range(activation, scale, zero_point))
        except ValueError as error:
            raise self.error(op, f"has a fused {error}") from None

    def weights(
        self, op: OperatorInfo, filter_position: int = 1, bias_position: int = 2, axis: int = 0
    ) -> QuantizedWeights:
        """The op's int8 filter and int32 bias (zeros when absent), per channel along `axis`
        (the filter's quantized dimension: 0 for FC and CONV_2D, 3 for DEPTHWISE_CONV_2D).

        With `convert --weights int4|int2` the codes are re-quantized to ctx.weight_bits from
        their int8 values, and the bias with them (see weights.requantize_weights)."""
        filter_index = op.input(filter_position)
        weights = self._int8_weights(op, self.constant(op, filter_index), filter_index, axis)
        bias = self._bias(op, op.input(bias_position), weights.channels)
        weights = QuantizedWeights(weights.codes, weights.scales, axis, bias, 8)
        return requantize_weights(weights, self.weight_bits)

    def _int8_weights(self, op, codes, index, axis) -> QuantizedWeights:
        tensor = self.tensor(index)
        if tensor.dtype != "INT8" or not tensor.quantized:
            raise self.error(
                op,
                f"has {tensor.dtype} weights '{tensor.name}'; micronn imports int8 weights "
                "(convert with full-integer quantization, without int4/16x8 options)",
            )
        if np.any(tensor.zero_point != 0):
            raise self.error(op, f"weights '{tensor.name}' must be symmetric (zero point 0)")
        if not np.all(np.isfinite(tensor.scale) & (tensor.scale >= 0)):
            raise self.error(op, f"weights '{tensor.name}' have a negative or non-finite scale")
        if codes.ndim <= axis or codes.size == 0:
            raise self.error(
                op,
                f"has weights '{tensor.name}' of shape {list(codes.shape)}; they need a channel "
                f"dimension {axis} and at least one value",
            )
        if codes.min() < -127:
            raise self.error(
                op,
                f"weights '{tensor.name}' contain -128; TFLite int8 weights lie in [-127, 127] "
                "(re-export with the TFLite converter)",
            )
        channels = codes.shape[axis]
        if tensor.scale.size not in (1, channels) or (
            tensor.scale.size > 1 and tensor.quantized_dimension != axis
        ):
            raise self.error(
                op,
                f"weights '{tensor.name}' have {tensor.scale.size} scales on dimension "
                f"{tensor.quantized_dimension}; expected 1 or {channels} on dimension {axis}",
            )
        return QuantizedWeights(codes, tensor.scale, axis, np.zeros(channels, np.int32), 8)

    def _bias(self, op, index, channels) -> np.ndarray:
        if index == NO_INPUT:
            return np.zeros(channels, np.int32)
        bias = self.constant(op, index)
        tensor = self.tensor(index)
        if tensor.dtype != "INT32" or bias.size != channels:
            raise self.error(
                op,
                f"bias '{tensor.name}' must be int32 with {channels} values, got "
                f"{tensor.dtype} with {bias.size}",
            )
        return bias.reshape(-1).astype(np.int32)

    # ---------------------------------------------------------------- making layers

    def new_layer(
        self,
        op_name: str,
        params: dict,
        tensors: dict,
        inputs,
        output: int,
        activation: str = "none",
        weight_bits: int = 8,
    ) -> Layer:
        """A Layer of micronn operator `op_name` (model.OPS) reading TFLite tensors `inputs`
        and writing TFLite tensor `output`."""
        layer = Layer(op_name, params, tensors, activation=activation, weight_bits=weight_bits)
        return self.connect(layer, inputs, output)

    def connect(self, layer: Layer, inputs, output: int) -> Layer:
        """Wire a Layer made elsewhere (e.g. by an ops.<family>.prepare function): its inputs
        are the activation ids of TFLite tensors `inputs`; its output is a new activation id
        for TFLite tensor `output`, shaped activation_view(output)."""
        layer.inputs = tuple(self.activation_id(index) for index in inputs)
        layer.output = self.new_activation(output)
        return layer

    def constant_operands(self, op: OperatorInfo, indices) -> list:
        """CONSTANT layers that write the op's constant int8 operands into activations (once
        per tensor), so that element-wise operators read activations only."""
        layers = []
        for index in indices:
            tensor = self.tensor(index)
            if not tensor.is_constant or index in self._ids:
                continue
            if tensor.dtype != "INT8" or tensor.scale.size != 1:
                raise self.error(
                    op,
                    f"has the constant operand '{tensor.name}' ({tensor.dtype}, "
                    f"{tensor.scale.size} scales); micronn takes int8 constants with one scale",
                )
            layers.append(self.connect(prepare_constant(self.constant(op, index)), (), index))
        return layers

    def broadcast_operator(self, op: OperatorInfo, prepare) -> list:
        """The layers of a two-input element-wise op with broadcasting and a fused activation:
        CONSTANT layers for its constant operands, then prepare(shape1, shape2, (scale, zero
        point) of input 1, input 2 and the output, activation=...)."""
        first, second, target = op.input(0), op.input(1), op.outputs[0]
        layers = self.constant_operands(op, (first, second))
        activation, _, _ = self.fused_activation(op)
        try:
            layer = prepare(
                self.tensor(first).shape,
                self.tensor(second).shape,
                self.quantization(first),
                self.quantization(second),
                self.quantization(target),
                activation=activation,
            )
        except ValueError as error:
            raise self.error(op, str(error)) from None
        return [*layers, self.connect(layer, (first, second), target)]

    def new_activation(self, index: int) -> int:
        """A new activation id for TFLite tensor `index` (graph.py calls this for the input)."""
        if index in self._ids:
            raise ValueError(
                f"{self.graph.name}: tensor '{self.tensor(index).name}' is written twice"
            )
        self._check_activation(index)
        self._ids[index] = len(self.shapes)
        self.shapes.append(self.activation_shape(index))
        return self._ids[index]

    def new_internal(self, shape) -> int:
        """A new activation id no TFLite tensor names: a link inside a chain of layers that
        one TFLite operator becomes (a CONCATENATION of more than two inputs)."""
        self.shapes.append(tuple(int(d) for d in shape))
        return len(self.shapes) - 1

    def alias(self, index: int, of: int) -> None:
        """TFLite tensor `index` holds the same bytes as `of` (reshape-like ops)."""
        self._check_activation(index)
        self._ids[index] = self.activation_id(of)

    def _check_activation(self, index: int) -> None:
        """An activation must be int8 with a static shape, batch 1 (or -1) and rank <= 4."""
        tensor, model = self.tensor(index), self.graph.name
        signature = tensor.shape_signature or tensor.shape
        if any(d < 0 for d in signature[1:]):
            raise ValueError(
                f"{model}: tensor '{tensor.name}' has shape {list(signature)}: dynamic shapes "
                f"are not supported (only the batch may be -1, and it runs as 1); "
                f"{STATIC_SHAPE_ADVICE}"
            )
        if any(d < 1 for d in tensor.shape):
            raise ValueError(
                f"{model}: tensor '{tensor.name}' has shape {list(tensor.shape)}: an empty or "
                "negative dimension (the file is damaged: re-export the model)"
            )
        if len(tensor.shape) >= 2 and tensor.shape[0] != 1:
            raise ValueError(
                f"{model}: tensor '{tensor.name}' has batch size {tensor.shape[0]}; micronn "
                "runs one sample at a time: export with batch size 1 (or a dynamic batch)"
            )
        if len(tensor.shape) > MAX_RANK:
            raise ValueError(
                f"{model}: tensor '{tensor.name}' has rank {len(tensor.shape)}; micronn "
                f"activations have at most {MAX_RANK} dimensions including the batch"
            )
        if tensor.dtype != "INT8":
            raise ValueError(
                f"{model}: tensor '{tensor.name}' is {tensor.dtype}; activations must be int8"
            )

    def error(self, op: OperatorInfo, problem: str) -> ValueError:
        """ValueError naming the op, its index and output: 'CONV_2D (operator 3, output 'x')
        <problem>'. `problem` should say what to do instead."""
        return ValueError(f"{self.graph.name}: {describe(self.graph, op)} {problem}")


def describe(graph, op: OperatorInfo) -> str:
    # the converter joins fused layers' names with ';' - the first one names the layer
    names = [graph.tensors[t].name.split(";")[0] for t in op.outputs if t != NO_INPUT]
    output = f", output '{names[0]}'" if names else ""
    return f"{op.name} (operator {op.index}{output})"
