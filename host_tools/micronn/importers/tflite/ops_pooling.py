"""MAX_POOL_2D and AVERAGE_POOL_2D: TFLM's int8 Prepare (pooling_common.cc)."""

import numpy as np

from micronn.importers.tflite.graph import register
from micronn.ops.pooling import prepare_pool

SCALE_TOLERANCE = 1.0e-6  # TFLM: |input scale - output scale| <= 1e-6, equal zero points


@register("MAX_POOL_2D")
def build_max_pool(ctx, op):
    return _build(ctx, op)


@register("AVERAGE_POOL_2D")
def build_average_pool(ctx, op):
    return _build(ctx, op)


def _build(ctx, op):
    source, target = op.input(0), op.outputs[0]
    shape = ctx.tensor(source).shape
    if len(shape) != 4:
        raise ctx.error(op, f"takes a {len(shape)}-D input {list(shape)}; expected [1, H, W, C]")
    in_scale, in_zero_point = ctx.quantization(source)
    out_scale, out_zero_point = ctx.quantization(target)
    if abs(np.float32(in_scale) - np.float32(out_scale)) > SCALE_TOLERANCE or (
        in_zero_point != out_zero_point
    ):
        raise ctx.error(
            op,
            "has different input and output quantization, which TFLM refuses for pooling; "
            "re-export the model with the converter",
        )
    activation, _, _ = ctx.fused_activation(op)
    options = op.options
    layer = prepare_pool(
        op.name,
        input_shape=shape[1:],
        filter_size=(options.get("filter_height", 1), options.get("filter_width", 1)),
        stride=(options.get("stride_h", 1), options.get("stride_w", 1)),
        padding=options.get("padding", "VALID"),
        scale=out_scale,
        zero_point=out_zero_point,
        activation=activation,
    )
    p = layer.params
    computed = (p["out_height"], p["out_width"], p["channels"])
    if computed != ctx.activation_shape(target):
        raise ctx.error(
            op,
            f"stores an output of shape {list(ctx.activation_shape(target))} but its window "
            f"gives {list(computed)}; re-export the model",
        )
    return ctx.connect(layer, (source,), target)
