"""MUL of int8 tensors with broadcasting: TFLM's Prepare (mul_common.cc)."""

from micronn.importers.tflite.graph import register
from micronn.ops.mul import prepare_mul


@register("MUL")
def build_mul(ctx, op):
    return ctx.broadcast_operator(op, prepare_mul)
