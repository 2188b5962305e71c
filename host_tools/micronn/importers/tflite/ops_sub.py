"""SUB of int8 tensors with broadcasting: TFLM's Prepare (sub_common.cc)."""

from micronn.importers.tflite.graph import register
from micronn.ops.sub import prepare_sub


@register("SUB")
def build_sub(ctx, op):
    return ctx.broadcast_operator(op, prepare_sub)
