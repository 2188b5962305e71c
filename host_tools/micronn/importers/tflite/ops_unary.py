"""HARD_SWISH, LEAKY_RELU, RELU, RELU6 and RELU_N1_TO_1: TFLM's int8 kernel run for every input
code on the host (micronn.ops.unary), giving a LOOKUP layer's table."""

import numpy as np

from micronn.importers.tflite.graph import register
from micronn.ops import unary


def _tables(op, quantization):
    if op.name == "HARD_SWISH":
        return unary.hard_swish_table(*quantization)
    if op.name == "LEAKY_RELU":
        return unary.leaky_relu_table(*quantization, op.options.get("alpha", 0.0))
    return unary.relu_table(op.name, *quantization)


@register("HARD_SWISH")
@register("LEAKY_RELU")
@register("RELU")
@register("RELU6")
@register("RELU_N1_TO_1")
def build_unary(ctx, op):
    source, target = op.input(0), op.outputs[0]
    size = int(np.prod(ctx.tensor(target).shape))
    try:
        table = _tables(op, (*ctx.quantization(source), *ctx.quantization(target)))
    except ValueError as error:
        raise ctx.error(op, str(error)) from None
    return ctx.connect(unary.prepare_table(op.name, size, table), (source,), target)
