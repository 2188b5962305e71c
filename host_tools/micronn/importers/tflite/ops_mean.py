"""MEAN over the spatial axes (global average pooling): TFLM's int8 Prepare (reduce_common.cc)."""

import numpy as np

from micronn.importers.tflite.graph import register
from micronn.ops.mean import prepare_mean

ADVICE = "micronn averages over all spatial axes per channel (GlobalAveragePooling)"


@register("MEAN")
def build_mean(ctx, op):
    source, target = op.input(0), op.outputs[0]
    shape = tuple(int(d) for d in ctx.tensor(source).shape)
    rank = len(shape)
    if rank not in (3, 4):
        raise ctx.error(op, f"reduces a {rank}-D tensor {list(shape)}; {ADVICE}")
    axes = {int(a) % rank for a in np.asarray(ctx.constant(op, op.input(1))).reshape(-1)}
    if rank - 1 in axes and shape[-1] != 1:
        raise ctx.error(op, f"averages over the channel axis; {ADVICE}")
    kept = [axis for axis in range(1, rank - 1) if axis not in axes and shape[axis] != 1]
    if kept:
        raise ctx.error(op, f"keeps spatial axis {kept[0]} of {list(shape)}; {ADVICE}")
    in_scale, in_zero_point = ctx.quantization(source)
    out_scale, out_zero_point = ctx.quantization(target)
    image = shape[1:] if rank == 4 else (1, *shape[1:])
    layer = prepare_mean(
        input_shape=image,
        input_scale=in_scale,
        input_zero_point=in_zero_point,
        output_scale=out_scale,
        output_zero_point=out_zero_point,
    )
    if int(np.prod(ctx.activation_shape(target))) != image[2]:
        raise ctx.error(op, f"stores {list(ctx.tensor(target).shape)}; expected {image[2]} values")
    return ctx.connect(layer, (source,), target)
