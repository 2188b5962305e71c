"""PRELU of an int8 tensor with an int8 alpha (usually a per-channel constant) broadcast against
it: TFLM's Prepare (prelu_common.cc)."""

from micronn.importers.tflite.graph import register
from micronn.ops.prelu import prepare_prelu


@register("PRELU")
def build_prelu(ctx, op):
    first, alpha, target = op.input(0), op.input(1), op.outputs[0]
    layers = ctx.constant_operands(op, (first, alpha))
    try:
        layer = prepare_prelu(
            ctx.tensor(first).shape,
            ctx.tensor(alpha).shape,
            ctx.quantization(first),
            ctx.quantization(alpha),
            ctx.quantization(target),
        )
    except ValueError as error:
        raise ctx.error(op, str(error)) from None
    return [*layers, ctx.connect(layer, (first, alpha), target)]
