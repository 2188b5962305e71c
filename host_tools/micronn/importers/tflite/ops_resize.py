"""RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR of an int8 [1, H, W, C] image to a constant size:
TFLM's Prepare (resize_nearest_neighbor.cc, resize_bilinear.cc) and its reference kernels'
positions."""

import numpy as np

from micronn.importers.tflite.graph import register
from micronn.ops.resize import prepare_resize_bilinear, prepare_resize_nearest


def _geometry(ctx, op):
    source, target = op.input(0), op.outputs[0]
    shape = tuple(int(d) for d in ctx.tensor(source).shape)
    if len(shape) != 4:
        raise ctx.error(op, f"takes a {len(shape)}-D input {list(shape)}; expected [1, H, W, C]")
    size = np.asarray(ctx.constant(op, op.input(1))).reshape(-1)
    if size.size != 2:
        raise ctx.error(op, f"has a size tensor of {size.size} values; expected (height, width)")
    out_size = (int(size[0]), int(size[1]))
    if ctx.activation_shape(target) != (*out_size, shape[3]):
        raise ctx.error(op, f"stores {list(ctx.tensor(target).shape)}, not {list(out_size)}")
    return source, target, shape[1:], out_size


@register("RESIZE_NEAREST_NEIGHBOR")
def build_resize_nearest(ctx, op):
    return _build(ctx, op, prepare_resize_nearest)


@register("RESIZE_BILINEAR")
def build_resize_bilinear(ctx, op):
    return _build(ctx, op, prepare_resize_bilinear)


def _build(ctx, op, prepare):
    source, target, image, size = _geometry(ctx, op)
    # int8 resizing works on codes: TFLM ignores the quantization of both tensors
    ctx.quantization(source), ctx.quantization(target)
    try:
        layer = prepare(
            image,
            size,
            bool(op.options.get("align_corners", False)),
            bool(op.options.get("half_pixel_centers", False)),
        )
    except ValueError as error:
        raise ctx.error(op, str(error)) from None
    return ctx.connect(layer, (source,), target)
