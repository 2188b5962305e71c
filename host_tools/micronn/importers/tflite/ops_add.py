"""ADD of int8 tensors: TFLM's Prepare (add_common.cc). Two tensors of one shape take the flat
ADD record (code 7); broadcast shapes take ADD_BROADCAST (code 14). A constant operand becomes a
CONSTANT layer that feeds either."""

import numpy as np

from micronn.importers.tflite.graph import register
from micronn.ops.add import prepare_add
from micronn.ops.add_broadcast import prepare_add_broadcast


@register("ADD")
def build_add(ctx, op):
    first, second, target = op.input(0), op.input(1), op.outputs[0]
    layers = ctx.constant_operands(op, (first, second))
    activation, _, _ = ctx.fused_activation(op)
    shapes = [tuple(ctx.tensor(index).shape) for index in (first, second, target)]
    try:
        if shapes[0] == shapes[1]:
            layer = prepare_add(
                int(np.prod(shapes[2])),
                *ctx.quantization(first),
                *ctx.quantization(second),
                *ctx.quantization(target),
                activation=activation,
            )
        else:
            layer = prepare_add_broadcast(
                shapes[0],
                shapes[1],
                ctx.quantization(first),
                ctx.quantization(second),
                ctx.quantization(target),
                activation=activation,
            )
    except ValueError as error:
        raise ctx.error(op, str(error)) from None
    return [*layers, ctx.connect(layer, (first, second), target)]
