"""MEAN over the spatial axes (global average pooling): TFLM's int8 Prepare (reduce_common.cc).
A MEAN over other axes becomes a MEAN_AXES layer (ops_reduce.py)."""

import numpy as np

from micronn.importers.tflite.graph import register
from micronn.importers.tflite.ops_reduce import build_mean_or_sum
from micronn.ops.mean import prepare_mean


def _spatial(shape, axes) -> bool:
    """True for a mean over every spatial axis of a [1, H, W, C] or [1, W, C] tensor, per
    channel (axes of size 1 may be in or out): record 6, GlobalAveragePooling."""
    rank = len(shape)
    if rank not in (3, 4) or not all(-rank <= a < rank for a in axes):
        return False
    axes = {int(a) % rank for a in axes}
    if rank - 1 in axes and shape[-1] != 1:
        return False
    return not [axis for axis in range(1, rank - 1) if axis not in axes and shape[axis] != 1]


@register("MEAN")
def build_mean(ctx, op):
    source, target = op.input(0), op.outputs[0]
    shape = tuple(int(d) for d in ctx.tensor(source).shape)
    rank = len(shape)
    if not _spatial(shape, np.asarray(ctx.constant(op, op.input(1))).reshape(-1)):
        return build_mean_or_sum(ctx, op, "MEAN_AXES")
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
