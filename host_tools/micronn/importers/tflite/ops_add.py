"""ADD of two computed int8 tensors of one shape: TFLM's Prepare (add_common.cc)."""

import numpy as np

from micronn.importers.tflite.graph import register
from micronn.ops.add import prepare_add


@register("ADD")
def build_add(ctx, op):
    first, second, target = op.input(0), op.input(1), op.outputs[0]
    for index in (first, second):
        if ctx.tensor(index).is_constant:
            raise ctx.error(
                op,
                f"adds the constant tensor '{ctx.tensor(index).name}'; micronn adds two computed "
                "tensors (fold a constant into the bias of the layer before)",
            )
    shapes = [tuple(ctx.tensor(index).shape) for index in (first, second, target)]
    if len(set(shapes)) != 1:
        raise ctx.error(
            op,
            f"broadcasts shapes {list(shapes[0])} and {list(shapes[1])}; micronn adds tensors "
            "of one shape only (make both branches produce the same shape)",
        )
    activation, _, _ = ctx.fused_activation(op)
    try:
        layer = prepare_add(
            int(np.prod(shapes[2])),
            *ctx.quantization(first),
            *ctx.quantization(second),
            *ctx.quantization(target),
            activation=activation,
        )
    except ValueError as error:
        raise ctx.error(op, str(error)) from None
    return ctx.connect(layer, (first, second), target)
