"""The data-movement operators of int8 activations: CONCATENATION, PAD. TFLM's int8 kernels move
codes without requantizing, and their Prepare refuses inputs whose quantization differs from
the output's (concatenation.cc), so these builders do too."""

import numpy as np

from micronn.importers.tflite.context import activation_view
from micronn.importers.tflite.graph import register
from micronn.importers.tflite.reader import NO_INPUT
from micronn.ops.concatenation import concatenated_shape, prepare_concatenation
from micronn.ops.pad import prepare_pad


def _same_quantization(ctx, op, sources, target, what):
    wanted = ctx.quantization(target)
    for index in sources:
        got = ctx.quantization(index)
        if got != wanted:
            raise ctx.error(
                op,
                f"{what} '{ctx.tensor(index).name}' with scale {got[0]:.6g} zero point {got[1]} "
                f"into an output with scale {wanted[0]:.6g} zero point {wanted[1]}; TFLM's int8 "
                "kernel refuses to requantize (re-export: the converter gives them one scale)",
            )


@register("CONCATENATION")
def build_concatenation(ctx, op):
    sources, target = list(op.inputs), op.outputs[0]
    if op.options.get("fused_activation_function", "NONE") != "NONE":
        raise ctx.error(op, "has a fused activation, which TFLM refuses for CONCATENATION")
    layers = ctx.constant_operands(op, sources)
    _same_quantization(ctx, op, sources, target, "concatenates")
    axis = int(op.options.get("axis", 0))
    if len(sources) == 1:
        ctx.alias(target, of=sources[0])
        return layers
    shape, current = tuple(ctx.tensor(sources[0]).shape), ctx.activation_id(sources[0])
    for position, index in enumerate(sources[1:], start=2):
        other = tuple(ctx.tensor(index).shape)
        try:
            layer = prepare_concatenation(shape, other, axis)
        except ValueError as error:
            raise ctx.error(op, str(error)) from None
        shape = concatenated_shape(shape, other, axis)
        layer.inputs = (current, ctx.activation_id(index))
        if position == len(sources):
            layer.output = ctx.new_activation(target)
        else:  # a chain of two-input records through activations of their own
            layer.output = ctx.new_internal(activation_view(shape))
        current = layer.output
        layers.append(layer)
    return layers


def build_pad_layer(ctx, op):
    """PAD / PADV2 as a layer (ops_conv.py folds the ones that feed only convolutions)."""
    source, target = op.input(0), op.outputs[0]
    paddings = np.asarray(ctx.constant(op, op.input(1)))
    _, value = ctx.quantization(target)
    if op.name == "PADV2" and op.input(2) != NO_INPUT:
        constant = ctx.constant(op, op.input(2)).reshape(-1)
        if constant.size != 1:
            raise ctx.error(op, f"pads with {constant.size} values; TFLM takes one")
        _same_quantization(ctx, op, [op.input(2)], target, "pads with the constant")
        value = int(constant[0])
    try:
        layer = prepare_pad(ctx.tensor(source).shape, paddings, value)
    except ValueError as error:
        raise ctx.error(op, str(error)) from None
    return ctx.connect(layer, (source,), target)
