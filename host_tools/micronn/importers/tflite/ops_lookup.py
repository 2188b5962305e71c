"""LOGISTIC and TANH: TFLM's int8 Prepare (logistic_common.cc, tanh.cc), run for every input
code on the host to give the layer's lookup table."""

import numpy as np

from micronn.importers.tflite.graph import register
from micronn.ops.lookup import prepare_lookup


@register("LOGISTIC")
@register("TANH")
def build_lookup(ctx, op):
    source, target = op.input(0), op.outputs[0]
    size = int(np.prod(ctx.tensor(target).shape))
    try:
        layer = prepare_lookup(op.name, size, *ctx.quantization(source), *ctx.quantization(target))
    except ValueError as error:
        raise ctx.error(op, str(error)) from None
    return ctx.connect(layer, (source,), target)
