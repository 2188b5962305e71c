"""SOFTMAX over the last axis: TFLM's int8 Prepare (softmax_common.cc) and its exp table."""

from micronn.importers.tflite.graph import register
from micronn.ops.softmax import prepare_softmax


@register("SOFTMAX")
def build_softmax(ctx, op):
    source, target = op.input(0), op.outputs[0]
    # TFLite normalises over the last axis of the tensor as SOFTMAX sees it (after any reshape).
    shape = tuple(ctx.tensor(source).shape)
    try:
        layer = prepare_softmax(
            shape,
            op.options.get("beta", 1.0),
            ctx.quantization(source)[0],
            *ctx.quantization(target),
        )
    except ValueError as error:
        raise ctx.error(op, str(error)) from None
    return ctx.connect(layer, (source,), target)
