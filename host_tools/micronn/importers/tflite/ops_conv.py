"""CONV_2D and DEPTHWISE_CONV_2D: TFLM's int8 Prepare (conv_common.cc, depthwise_conv_common.cc).

A PAD (or PADV2 padding with the zero point) that feeds only convolutions is folded into their
padding: its pad value is the convolution's input zero point, so its taps add exactly 0, the
same as the taps a convolution skips outside the image. This is how Keras' causal Conv1D
arrives. Every other PAD becomes a PAD layer (ops_shape.py).
"""

import numpy as np

from micronn.importers.tflite.dead_channels import fold_dead_channels
from micronn.importers.tflite.graph import register
from micronn.importers.tflite.ops_shape import build_pad_layer
from micronn.importers.tflite.plumbing import VIEW_OPS
from micronn.ops.conv import prepare_conv2d, prepare_depthwise_conv2d
from micronn.ops.window import effective_size, geometry

CONVOLUTIONS = ("CONV_2D", "DEPTHWISE_CONV_2D")
PAD_OPS = ("PAD", "PADV2")


@register("CONV_2D")
def build_conv2d(ctx, op):
    source = op.input(0)
    weights = ctx.weights(op, filter_position=1, bias_position=2, axis=0)
    channels = _image_shape(ctx, op, source)[2]
    if weights.codes.ndim != 4:
        raise ctx.error(op, f"has weights of shape {list(weights.codes.shape)}; expected OHWI")
    if weights.codes.shape[3] != channels:
        raise ctx.error(
            op,
            f"is a grouped convolution ({channels} input channels, {weights.codes.shape[3]} per "
            "filter), which micronn does not support; use groups=1 or a DepthwiseConv2D",
        )
    return _build(ctx, op, prepare_conv2d, weights.codes, weights)


@register("DEPTHWISE_CONV_2D")
def build_depthwise_conv2d(ctx, op):
    source = op.input(0)
    weights = ctx.weights(op, filter_position=1, bias_position=2, axis=3)
    channels = _image_shape(ctx, op, source)[2]
    codes = weights.codes
    if codes.ndim != 4 or codes.shape[0] != 1:
        raise ctx.error(op, f"has weights of shape {list(codes.shape)}; expected [1, H, W, C*M]")
    out_channels = codes.shape[3]
    multiplier = op.options.get("depth_multiplier", 0)
    if out_channels % channels or out_channels // channels != multiplier:
        raise ctx.error(
            op,
            f"has {out_channels} output channels for {channels} input channels and depth "
            f"multiplier {multiplier}; they must satisfy out = in x multiplier",
        )
    return _build(ctx, op, prepare_depthwise_conv2d, codes.reshape(codes.shape[1:]), weights)


def _build(ctx, op, prepare, codes, weights):
    source, target = op.input(0), op.outputs[0]
    kernel = codes.shape[1:3] if prepare is prepare_conv2d else codes.shape[0:2]
    stride = (op.options.get("stride_h", 1), op.options.get("stride_w", 1))
    dilation = (op.options.get("dilation_h_factor", 1), op.options.get("dilation_w_factor", 1))
    image, padding = _padding(ctx, op, source, kernel, stride, dilation)
    activation, _, _ = ctx.fused_activation(op)
    in_scale, in_zero_point = ctx.quantization(source)
    out_scale, out_zero_point = ctx.quantization(target)
    layer = prepare(
        codes,
        weights.scales,
        weights.bias,
        input_shape=image,
        input_scale=in_scale,
        input_zero_point=in_zero_point,
        output_scale=out_scale,
        output_zero_point=out_zero_point,
        stride=stride,
        dilation=dilation,
        padding=padding,
        activation=activation,
        weight_bits=weights.bits,
    )
    p = layer.params
    computed = (p["out_height"], p["out_width"], p["out_channels"])
    if computed != ctx.activation_shape(target):
        raise ctx.error(
            op,
            f"stores an output of shape {list(ctx.activation_shape(target))} but its padding "
            f"and strides give {list(computed)}; re-export the model",
        )
    return ctx.connect(fold_dead_channels(layer), (source,), target)


def _image_shape(ctx, op, index) -> tuple:
    shape = ctx.tensor(index).shape
    if len(shape) != 4:
        raise ctx.error(op, f"takes a {len(shape)}-D input {list(shape)}; expected [1, H, W, C]")
    return tuple(int(d) for d in shape[1:])


def _padding(ctx, op, source, kernel, stride, dilation):
    """((H, W, C) of the tensor the layer reads, padding) with any PAD before it folded in."""
    padding = op.options.get("padding", "VALID").lower()
    image = _image_shape(ctx, op, source)
    pad_op = _pad_producer(ctx, source)
    if pad_op is None:
        return image, padding
    before, after = _pad_amounts(ctx, pad_op)
    spots = geometry(image[:2], kernel, stride, dilation, padding)
    explicit = []
    for axis, name in ((0, "out_height"), (1, "out_width")):
        own = (spots[name] - 1) * stride[axis] + effective_size(kernel[axis], dilation[axis])
        total = max(own - image[axis], 0)
        top = spots["pad_top" if axis == 0 else "pad_left"]
        explicit += [before[axis] + top, after[axis] + total - top]
        if explicit[-2] >= effective_size(kernel[axis], dilation[axis]):
            raise ctx.error(
                op,
                f"follows a {pad_op.name} that pads {before[axis]} before the image, as much as "
                "its kernel covers, so some outputs see only padding; pad less or use a larger "
                "kernel",
            )
    unpadded = (image[0] - before[0] - after[0], image[1] - before[1] - after[1], image[2])
    return unpadded, tuple(explicit)


def _producer(ctx, index):
    return next((o for o in ctx.graph.operators if index in o.outputs), None)


def _pad_producer(ctx, index):
    """The PAD/PADV2 folded into the convolutions that read `index` (possibly through
    reshapes), or None."""
    while (producer := _producer(ctx, index)) is not None:
        if producer.name in PAD_OPS:
            return producer if producer.index in ctx.folded else None
        if producer.name not in VIEW_OPS:
            return None
        index = producer.inputs[0]
    return None


def _pad_amounts(ctx, pad_op):
    """((top, left), (bottom, right)) of a PAD over [1, H, W, C] or [1, W, C]."""
    problem = _amounts_problem(ctx, pad_op)
    if problem:
        raise ctx.error(pad_op, f"{problem}; micronn folds spatial padding only")
    amounts = _amounts(ctx, pad_op)
    rank = amounts.shape[0]
    rows = amounts[1] if rank == 4 else (0, 0)
    cols = amounts[2] if rank == 4 else amounts[1]
    return (int(rows[0]), int(cols[0])), (int(rows[1]), int(cols[1]))


def _amounts(ctx, pad_op) -> np.ndarray:
    return np.asarray(ctx.constant(pad_op, pad_op.input(1))).reshape(-1, 2)


def _amounts_problem(ctx, pad_op) -> str | None:
    amounts = _amounts(ctx, pad_op)
    rank = len(ctx.tensor(pad_op.outputs[0]).shape)
    if rank not in (3, 4) or amounts.shape[0] != rank:
        return f"pads a {rank}-D tensor, not an image"
    if (amounts < 0).any():
        return f"crops (paddings {amounts.tolist()})"
    if amounts[0].any() or amounts[-1].any():
        axis = "batch" if amounts[0].any() else "channel"
        before, after = (int(v) for v in amounts[0 if axis == "batch" else -1])
        return f"pads the {axis} axis ({before} before, {after} after)"
    return None


def _view_consumers(ctx, index):
    """(op, tensor) for every op reading `index`, looking through reshapes."""
    found = []
    for consumer in ctx.graph.operators:
        if index not in consumer.inputs:
            continue
        if consumer.name in VIEW_OPS and consumer.inputs[0] == index:
            found += _view_consumers(ctx, consumer.outputs[0])
        else:
            found.append((consumer, index))
    return found


def _build_pad(ctx, op):
    """Fold a PAD into the convolutions it feeds (they add its padding to their own), or make
    it a PAD layer when it cannot fold."""
    if _fold_problems(ctx, op):
        return build_pad_layer(ctx, op)
    ctx.folded.add(op.index)
    ctx.alias(op.outputs[0], of=op.input(0))
    return []


def _fold_problems(ctx, op) -> list:
    """Why PAD `op` cannot become part of the padding of the convolutions it feeds."""
    target = op.outputs[0]
    if target in ctx.graph.outputs:
        return ["is the model's output"]
    problems = [problem] if (problem := _amounts_problem(ctx, op)) else []
    for consumer, index in _view_consumers(ctx, target):
        if consumer.name not in CONVOLUTIONS or consumer.input(0) != index:
            problems.append(f"feeds {consumer.name}")
        elif _image_shape(ctx, consumer, index) != _padded_view(ctx, target):
            problems.append(f"is reshaped on its way to {consumer.name}")
    _, zero_point = ctx.quantization(target)
    if op.name == "PADV2" and op.input(2) != -1:
        value = ctx.constant(op, op.input(2)).reshape(-1)
        if value.size != 1 or int(value[0]) != zero_point:
            problems.append(f"pads with {value.tolist()}, not the zero point {zero_point}")
    return list(dict.fromkeys(problems))


def _padded_view(ctx, index) -> tuple:
    view = ctx.activation_shape(index)
    return tuple(view) if len(view) == 3 else ()


register("PAD")(_build_pad)
register("PADV2")(_build_pad)
