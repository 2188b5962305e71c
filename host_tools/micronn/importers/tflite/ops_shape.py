"""The data-movement operators of int8 activations: CONCATENATION, PAD, TRANSPOSE,
STRIDED_SLICE, SLICE, SPLIT, SPLIT_V. TFLM's int8 kernels move codes without requantizing;
CONCATENATION's Prepare refuses inputs whose quantization differs from the output's, PADV2's a
constant value quantized otherwise than the output (concatenation.cc, pad_common.cc), and so do
these builders. The others copy codes whatever the parameters, as TFLM does."""

import numpy as np

from micronn.importers.tflite.context import activation_view
from micronn.importers.tflite.graph import register
from micronn.importers.tflite.reader import NO_INPUT
from micronn.ops.concatenation import concatenated_shape, prepare_concatenation
from micronn.ops.pad import prepare_pad
from micronn.ops.strided import prepare_strided_slice, prepare_transpose, slice_walk


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
    if not sources:
        raise ctx.error(op, "has no inputs; re-export the model")
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


def _walk_layer(ctx, op, prepare, source, target, *arguments):
    try:
        layer = prepare(ctx.tensor(source).shape, *arguments)
    except ValueError as error:
        raise ctx.error(op, str(error)) from None
    return ctx.connect(layer, (source,), target)


@register("TRANSPOSE")
def build_transpose(ctx, op):
    perm = ctx.constant(op, op.input(1))
    return _walk_layer(ctx, op, prepare_transpose, op.input(0), op.outputs[0], perm)


def _used(ctx, index) -> bool:
    return index in ctx.graph.outputs or any(index in o.inputs for o in ctx.graph.operators)


@register("STRIDED_SLICE")
def build_strided_slice(ctx, op):
    """A STRIDED_SLICE of an int8 activation (one of static shape values is folded at import,
    plumbing.py). TFLM ignores the ellipsis and new-axis masks and the offset option."""
    source, target = op.input(0), op.outputs[0]
    begin, end = ctx.constant(op, op.input(1)), ctx.constant(op, op.input(2))
    strides = ctx.constant(op, op.input(3))
    shape = ctx.tensor(source).shape
    if not len(begin) == len(end) == len(strides) == len(shape):
        raise ctx.error(op, f"needs begin, end and strides for each of the {len(shape)} dims")
    masks = (op.options.get(name, 0) for name in ("begin_mask", "end_mask", "shrink_axis_mask"))
    try:
        walk = slice_walk(shape, begin, end, strides, *masks)
    except ValueError as error:
        raise ctx.error(op, str(error)) from None
    return _walk_layer(ctx, op, prepare_strided_slice, source, target, walk)


@register("SLICE")
def build_slice(ctx, op):
    source, target = op.input(0), op.outputs[0]
    begin = [int(b) for b in ctx.constant(op, op.input(1))]
    sizes = [int(s) for s in ctx.constant(op, op.input(2))]
    shape = ctx.tensor(source).shape
    if not len(begin) == len(sizes) == len(shape):
        raise ctx.error(op, f"needs begin and size for each of the {len(shape)} dims")
    walk = [(b, d - b if n == -1 else n, 1) for b, n, d in zip(begin, sizes, shape, strict=True)]
    return _walk_layer(ctx, op, prepare_strided_slice, source, target, walk)


def _split(ctx, op, source, axis, sizes):
    shape = tuple(int(d) for d in ctx.tensor(source).shape)
    if not -len(shape) <= axis < len(shape):
        raise ctx.error(op, f"splits axis {axis} of a {len(shape)}-D tensor")
    axis %= len(shape)
    if sum(sizes) != shape[axis] or min(sizes) < 1:
        raise ctx.error(op, f"splits a dim of {shape[axis]} into {sizes}")
    layers, start = [], 0
    for target, count in zip(op.outputs, sizes, strict=True):
        walk = [(0, d, 1) for d in shape]
        walk[axis] = (start, count, 1)
        start += count
        if _used(ctx, target):  # an output nothing reads needs no layer
            layers.append(_walk_layer(ctx, op, prepare_strided_slice, source, target, walk))
    return layers


@register("SPLIT")
def build_split(ctx, op):
    axis = int(np.asarray(ctx.constant(op, op.input(0))).reshape(-1)[0])
    source = op.input(1)
    count = len(op.outputs)
    dim = ctx.tensor(source).shape[axis]
    if dim % count:
        raise ctx.error(op, f"splits a dim of {dim} into {count} equal parts")
    return _split(ctx, op, source, axis, [dim // count] * count)


@register("SPLIT_V")
def build_split_v(ctx, op):
    source = op.input(0)
    sizes = [int(s) for s in ctx.constant(op, op.input(1))]
    axis = int(np.asarray(ctx.constant(op, op.input(2))).reshape(-1)[0])
    if sizes.count(-1) == 1:
        sizes[sizes.index(-1)] = int(ctx.tensor(source).shape[axis]) - (sum(sizes) + 1)
    return _split(ctx, op, source, axis, sizes)
