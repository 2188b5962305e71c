"""MUL of int8 tensors with broadcasting: TFLM's Prepare (mul_common.cc)."""

from micronn.importers.tflite.graph import register
from micronn.ops.mul import prepare_mul


@register("MUL")
def build_mul(ctx, op):
    first, second, target = op.input(0), op.input(1), op.outputs[0]
    layers = ctx.constant_operands(op, (first, second))
    activation, _, _ = ctx.fused_activation(op)
    try:
        layer = prepare_mul(
            ctx.tensor(first).shape,
            ctx.tensor(second).shape,
            ctx.quantization(first),
            ctx.quantization(second),
            ctx.quantization(target),
            activation=activation,
        )
    except ValueError as error:
        raise ctx.error(op, str(error)) from None
    return [*layers, ctx.connect(layer, (first, second), target)]
