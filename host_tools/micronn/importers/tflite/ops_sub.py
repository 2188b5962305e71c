"""SUB of int8 tensors with broadcasting: TFLM's Prepare (sub_common.cc)."""

from micronn.importers.tflite.graph import register
from micronn.ops.sub import prepare_sub


@register("SUB")
def build_sub(ctx, op):
    first, second, target = op.input(0), op.input(1), op.outputs[0]
    layers = ctx.constant_operands(op, (first, second))
    activation, _, _ = ctx.fused_activation(op)
    try:
        layer = prepare_sub(
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
