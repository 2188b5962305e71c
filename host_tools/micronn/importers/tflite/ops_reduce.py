"""REDUCE_MAX and SUM over any constant axes, and MEAN over axes other than the spatial ones
(ops_mean.py hands those here): TFLM's int8 Prepare (reduce_common.cc)."""

import numpy as np

from micronn.importers.tflite.graph import register
from micronn.ops.reduce import output_shape_of, prepare_mean_or_sum, prepare_reduce_max


def _geometry(ctx, op):
    source, target = op.input(0), op.outputs[0]
    shape = tuple(int(d) for d in ctx.tensor(source).shape)
    axes = np.asarray(ctx.constant(op, op.input(1))).reshape(-1)
    return source, target, shape, axes


def _connect(ctx, op, layer, source, target):
    out = ctx.tensor(target).shape
    if _drops_batch(ctx, op, out):
        raise ctx.error(
            op,
            f"reduces the batch axis and drops it (output {list(out)}); micronn keeps the batch "
            "first in every activation: reduce other axes or keep_dims",
        )
    kept = int(np.prod(output_shape_of(layer.params)))
    if int(np.prod(ctx.activation_shape(target))) != kept:
        raise ctx.error(op, f"stores {list(ctx.tensor(target).shape)}; expected {kept} values")
    return ctx.connect(layer, (source,), target)


def _drops_batch(ctx, op, out_shape) -> bool:
    """True when axis 0 (the batch) is reduced away and the output's first dim is another one."""
    rank = len(ctx.tensor(op.input(0)).shape)
    axes = {int(a) % rank for a in np.asarray(ctx.constant(op, op.input(1))).reshape(-1)}
    keep_dims = bool(op.options.get("keep_dims", False))
    return rank >= 2 and 0 in axes and not keep_dims and len(out_shape) >= 2


@register("REDUCE_MAX")
def build_reduce_max(ctx, op):
    source, target, shape, axes = _geometry(ctx, op)
    try:
        layer = prepare_reduce_max(shape, axes, ctx.quantization(source), ctx.quantization(target))
    except ValueError as error:
        raise ctx.error(op, str(error)) from None
    return _connect(ctx, op, layer, source, target)


def build_mean_or_sum(ctx, op, name):
    source, target, shape, axes = _geometry(ctx, op)
    try:
        layer = prepare_mean_or_sum(
            name, shape, axes, ctx.quantization(source), ctx.quantization(target)
        )
    except ValueError as error:
        raise ctx.error(op, str(error)) from None
    return _connect(ctx, op, layer, source, target)


@register("SUM")
def build_sum(ctx, op):
    return build_mean_or_sum(ctx, op, "SUM")
