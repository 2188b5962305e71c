"""MAXIMUM and MINIMUM of int8 tensors with broadcasting (TFLM maximum_minimum.cc: raw codes)."""

from micronn.importers.tflite.graph import register
from micronn.ops.maximum_minimum import prepare_maximum_minimum


def build_maximum_minimum(ctx, op):
    first, second, target = op.input(0), op.input(1), op.outputs[0]
    layers = ctx.constant_operands(op, (first, second))
    try:
        layer = prepare_maximum_minimum(
            op.name,
            ctx.tensor(first).shape,
            ctx.tensor(second).shape,
            ctx.quantization(first),
            ctx.quantization(second),
            ctx.quantization(target),
        )
    except ValueError as error:
        raise ctx.error(op, str(error)) from None
    return [*layers, ctx.connect(layer, (first, second), target)]


register("MAXIMUM")(build_maximum_minimum)
register("MINIMUM")(build_maximum_minimum)
