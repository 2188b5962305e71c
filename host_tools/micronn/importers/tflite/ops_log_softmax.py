"""LOG_SOFTMAX: TFLM's int8 Prepare (log_softmax.cc), tables of every difference."""

from micronn.importers.tflite.graph import register
from micronn.ops.log_softmax import prepare_log_softmax


@register("LOG_SOFTMAX")
def build_log_softmax(ctx, op):
    source, target = op.input(0), op.outputs[0]
    try:
        layer = prepare_log_softmax(
            ctx.activation_shape(source), ctx.quantization(source)[0], *ctx.quantization(target)
        )
    except ValueError as error:
        raise ctx.error(op, str(error)) from None
    return ctx.connect(layer, (source,), target)
