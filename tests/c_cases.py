"""Random layers of every operator family with inputs and the reference's outputs: the golden
vectors for the C kernels (host ctypes tests and the Cortex-M0+ run under QEMU)."""

from dataclasses import dataclass

import numpy as np
from conv_factory import bound_conv, random_conv, random_mean, random_pool, zero_point
from model_factory import random_dense_layer

from micronn.ops import KERNELS, broadcast, reduce
from micronn.ops.add import prepare_add
from micronn.ops.add_broadcast import prepare_add_broadcast
from micronn.ops.concatenation import prepare_concatenation
from micronn.ops.log_softmax import prepare_log_softmax
from micronn.ops.lookup import prepare_lookup
from micronn.ops.maximum_minimum import prepare_maximum_minimum
from micronn.ops.mul import prepare_mul
from micronn.ops.pad import padded_dims, prepare_pad
from micronn.ops.prelu import prepare_prelu
from micronn.ops.resize import prepare_resize_bilinear, prepare_resize_nearest
from micronn.ops.softmax import prepare_softmax
from micronn.ops.strided import prepare_strided_slice, prepare_transpose
from micronn.ops.sub import prepare_sub
from micronn.ops.unary import prepare_table

RESIZE_OPS = ("RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR")
REDUCE_OPS = ("REDUCE_MAX", "MEAN_AXES", "SUM")
BROADCAST_OPS = ("MUL", "SUB", "ADD_BROADCAST", "MAXIMUM", "MINIMUM", "PRELU")
FAMILIES = (
    "dense",
    "conv",
    "pool",
    "mean",
    "add",
    "lookup",
    "softmax",
    "mul",
    "resize",
    "reduce",
    "sub",
    "add_broadcast",
    "maximum_minimum",
    "prelu",
    "concatenation",
    "pad",
    "transpose",
    "strided_slice",
    "table_lookup",
    "log_softmax",
)
FILTER_OPS = ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D")


@dataclass
class Case:
    layer: object
    inputs: list  # per input tensor: int8 [samples, size]
    expected: np.ndarray  # int8 [samples, out_size]
    chunks: list | None = None  # channel boundaries for a tiled run (filter ops)


def _in_shapes(layer):
    p = layer.params
    if layer.op == "FULLY_CONNECTED":
        return [(p["in_features"],)]
    if layer.op in FILTER_OPS:
        return [(p["in_height"], p["in_width"], p["in_channels"])]
    if layer.op in ("MAX_POOL_2D", "AVERAGE_POOL_2D", "MEAN"):
        return [(p["in_height"], p["in_width"], p["channels"])]
    if layer.op in ("SOFTMAX", "LOG_SOFTMAX"):
        return [(p["rows"], p["depth"])]
    if layer.op == "ADD":
        return [(p["size"],), (p["size"],)]
    if layer.op in (*BROADCAST_OPS, "CONCATENATION"):
        return list(layer.input_shapes)
    if layer.op == "PAD":
        return [tuple(p[f"in_dim{k}"] for k in range(4))]
    if layer.op in ("TRANSPOSE", "STRIDED_SLICE"):
        return list(layer.input_shapes)
    if layer.op in RESIZE_OPS:
        return [(p["in_height"], p["in_width"], p["channels"])]
    if layer.op in REDUCE_OPS:
        return [tuple(p[name] for name in reduce.DIMS)]
    return [(p["size"],)]


def _out_shape(layer):
    p = layer.params
    if layer.op == "FULLY_CONNECTED":
        return (p["out_features"],)
    if layer.op in FILTER_OPS:
        return (p["out_height"], p["out_width"], p["out_channels"])
    if layer.op in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        return (p["out_height"], p["out_width"], p["channels"])
    if layer.op == "MEAN":
        return (p["channels"],)
    if layer.op in BROADCAST_OPS:
        return broadcast.output_shape(layer)
    if layer.op in RESIZE_OPS:
        return (p["out_height"], p["out_width"], p["channels"])
    if layer.op in REDUCE_OPS:
        return reduce.output_shape(layer)
    if layer.op == "CONCATENATION":
        return (layer.outer * (layer.inner1 + layer.inner2),)
    if layer.op == "PAD":
        return padded_dims(p)
    if layer.op in ("TRANSPOSE", "STRIDED_SLICE"):
        return tuple(p[f"out_dim{k}"] for k in range(4))
    return _in_shapes(layer)[0]


def _samples(rng, shape, count):
    x = rng.integers(-128, 128, size=(count, *shape))
    x[0] = rng.choice([-128, 127], size=shape)
    if rng.random() < 0.3:  # near-constant rows make softmax and pools hit ties
        x[-1] = int(rng.integers(-128, 128)) + rng.integers(0, 2, size=shape)
    return np.clip(x, -128, 127).astype(np.int8)


def _chunks(rng, channels):
    cuts = sorted({int(c) for c in rng.integers(0, channels + 1, size=int(rng.integers(1, 4)))})
    return sorted({0, channels, *cuts})


def make_case(rng, layer, samples=3) -> Case:
    inputs = [_samples(rng, shape, samples) for shape in _in_shapes(layer)]
    expected = KERNELS[layer.op](layer, inputs, _out_shape(layer)).reshape(samples, -1)
    flat = [x.reshape(samples, -1) for x in inputs]
    chunks = None
    if layer.op in FILTER_OPS and rng.random() < 0.5:
        chunks = _chunks(rng, int(np.asarray(layer.bias).size))
    return Case(layer, flat, expected, chunks)


def _dense(rng):
    return random_dense_layer(
        rng,
        int(rng.integers(1, 70)),
        int(rng.integers(1, 24)),
        int(rng.choice([8, 4, 2])),
        bool(rng.integers(2)),
        str(rng.choice(["none", "relu", "relu6"])),
    )


def _conv(rng):
    if rng.random() < 0.15:
        multiplier = int(rng.choice([1 << 30, (1 << 31) - 1, int(rng.integers(1 << 30, 1 << 31))]))
        return bound_conv(rng, bool(rng.integers(2)), int(rng.choice([8, 4, 2])), multiplier)
    return random_conv(rng)[0]


def _pool(rng):
    return random_pool(rng)


def _mean(rng):
    return random_mean(rng)[0]


def _add(rng):
    scales = [float(10.0 ** rng.uniform(-3, 0)) for _ in range(2)]
    scales.append(sum(scales) * float(rng.uniform(0.3, 3.0)))
    return prepare_add(
        int(rng.integers(1, 50)),
        scales[0],
        zero_point(rng),
        scales[1],
        zero_point(rng),
        scales[2],
        zero_point(rng),
        str(rng.choice(["none", "relu", "relu6"])),
    )


def _lookup(rng):
    op = str(rng.choice(["LOGISTIC", "TANH"]))
    out = {"LOGISTIC": (1.0 / 256, -128), "TANH": (1.0 / 128, 0)}[op]
    scale = float(10.0 ** rng.uniform(-3, 0))
    return prepare_lookup(op, int(rng.integers(1, 60)), scale, zero_point(rng), *out)


def _softmax(rng):
    depth = int(rng.choice([1, 2, 5, 10, int(rng.integers(1, 40)), 600]))
    rows = int(rng.integers(1, 4))
    beta = float(rng.choice([1.0, 10.0 ** rng.uniform(-1, 1)]))
    scale = float(10.0 ** rng.uniform(-2, 0.5))
    return prepare_softmax((rows, depth), beta, scale, 1.0 / 256, -128)


def _broadcast_shapes(rng):
    rank = int(rng.integers(1, 5))
    shape = [int(d) for d in rng.integers(1, 6, rank)]
    shapes = [
        [d if rng.random() < 0.6 else 1 for d in shape],
        [d if rng.random() < 0.6 else 1 for d in shape],
    ]
    shapes[int(rng.integers(2))] = shape  # one input has the output's shape (or both broadcast)
    return shapes


def _mul(rng):
    shapes = _broadcast_shapes(rng)
    s1, s2 = (float(10.0 ** rng.uniform(-3, 0)) for _ in range(2))
    layer = prepare_mul(
        shapes[0],
        shapes[1],
        (s1, zero_point(rng)),
        (s2, zero_point(rng)),
        (s1 * s2 * float(10.0 ** rng.uniform(-1, 2)), zero_point(rng)),
        str(rng.choice(["none", "relu", "relu6"])),
    )
    layer.input_shapes = [tuple(shapes[0]), tuple(shapes[1])]
    return layer


def _resize(rng):
    image = [int(d) for d in rng.integers(1, 9, 3)]
    size = [int(d) for d in rng.integers(1, 20, 2)]
    align, half = (bool(v) for v in rng.integers(0, 2, 2))
    if rng.random() < 0.5:
        return prepare_resize_nearest(image, size, align, half)
    return prepare_resize_bilinear(image, size, align and not half, half)


def _reduce(rng):
    shape = [int(d) for d in rng.integers(1, 7, int(rng.integers(1, 5)))]
    axes = [int(a) for a in range(len(shape)) if rng.random() < 0.5]
    op = str(rng.choice(REDUCE_OPS))
    scale = float(10.0 ** rng.uniform(-3, 0))
    if op == "REDUCE_MAX":
        return reduce.prepare_reduce_max(shape, axes, (scale, 0), (scale, 0))
    ratio = float(10.0 ** rng.uniform(-1, 1.5 if op == "SUM" else 1))
    for _ in range(10):
        try:
            return reduce.prepare_mean_or_sum(
                op, shape, axes, (scale, zero_point(rng)), (scale * ratio, zero_point(rng))
            )
        except ValueError:  # the 31-bit bound: a wider output range
            ratio *= 4
    raise AssertionError("no reduction fits")


def _sub(rng, prepare=prepare_sub):
    shapes = _broadcast_shapes(rng)
    s1, s2 = (float(10.0 ** rng.uniform(-3, 0)) for _ in range(2))
    layer = prepare(
        shapes[0],
        shapes[1],
        (s1, zero_point(rng)),
        (s2, zero_point(rng)),
        (max(s1, s2) * float(10.0 ** rng.uniform(-0.7, 1.3)), zero_point(rng)),
        str(rng.choice(["none", "relu", "relu6"])),
    )
    layer.input_shapes = [tuple(shapes[0]), tuple(shapes[1])]
    return layer


def _concatenation(rng):
    rank = int(rng.integers(1, 5))
    shapes = [[int(d) for d in rng.integers(1, 6, rank)] for _ in range(2)]
    axis = int(rng.integers(-rank, rank))
    shapes[1] = [d if k != axis % rank else shapes[1][k] for k, d in enumerate(shapes[0])]
    layer = prepare_concatenation(shapes[0], shapes[1], axis)
    layer.input_shapes = [tuple(shapes[0]), tuple(shapes[1])]
    return layer


def _add_broadcast(rng):
    return _sub(rng, prepare_add_broadcast)


def _maximum_minimum(rng):
    shapes = _broadcast_shapes(rng)
    q = (float(10.0 ** rng.uniform(-3, 0)), zero_point(rng))
    layer = prepare_maximum_minimum(str(rng.choice(["MAXIMUM", "MINIMUM"])), *shapes, q, q, q)
    layer.input_shapes = [tuple(shapes[0]), tuple(shapes[1])]
    return layer


def _prelu(rng):
    shapes = _broadcast_shapes(rng)
    s_in, s_alpha = (float(10.0 ** rng.uniform(-3, 0)) for _ in range(2))
    s_out = s_in * float(10.0 ** rng.uniform(-1, 1))
    layer = prepare_prelu(
        shapes[0], shapes[1], (s_in, zero_point(rng)), (s_alpha, zero_point(rng)),
        (s_out, zero_point(rng)),
    )  # fmt: skip
    layer.input_shapes = [tuple(shapes[0]), tuple(shapes[1])]
    return layer


def _pad(rng):
    rank = int(rng.integers(1, 5))
    shape = [int(d) for d in rng.integers(1, 6, rank)]
    paddings = rng.integers(0, 3, (rank, 2)) * (rng.random((rank, 1)) < 0.7)
    return prepare_pad(shape, paddings, int(rng.integers(-128, 128)))


def _transpose(rng):
    rank = int(rng.integers(1, 5))
    shape = [int(d) for d in rng.integers(1, 7, rank)]
    layer = prepare_transpose(shape, rng.permutation(rank))
    layer.input_shapes = [tuple(shape)]
    return layer


def _strided_slice(rng):
    rank = int(rng.integers(1, 5))
    shape = [int(d) for d in rng.integers(1, 7, rank)]
    walk = []
    for dim in shape:
        step = int(rng.choice([1, 1, 2, 3, -1, -2]))
        start = int(rng.integers(0, dim))
        room = start + 1 if step < 0 else dim - start
        walk.append((start, int(rng.integers(1, (room - 1) // abs(step) + 2)), step))
    layer = prepare_strided_slice(shape, walk)
    layer.input_shapes = [tuple(shape)]
    return layer


def _table_lookup(rng):
    table = rng.integers(-128, 128, 256).astype(np.int8)
    source = str(rng.choice(["HARD_SWISH", "LEAKY_RELU", "QUANTIZE"]))
    return prepare_table(source, int(rng.integers(1, 60)), table)


def _log_softmax(rng):
    depth = int(rng.choice([1, 2, 5, 10, int(rng.integers(1, 40)), 600]))
    rows = int(rng.integers(1, 4))
    scale = float(10.0 ** rng.uniform(-2, 0.5))
    return prepare_log_softmax((rows, depth), scale, 16 / 256, 127)


MAKERS = {
    "dense": _dense,
    "conv": _conv,
    "pool": _pool,
    "mean": _mean,
    "add": _add,
    "lookup": _lookup,
    "softmax": _softmax,
    "mul": _mul,
    "resize": _resize,
    "reduce": _reduce,
    "concatenation": _concatenation,
    "pad": _pad,
    "transpose": _transpose,
    "strided_slice": _strided_slice,
    "table_lookup": _table_lookup,
    "log_softmax": _log_softmax,
    "sub": _sub,
    "add_broadcast": _add_broadcast,
    "maximum_minimum": _maximum_minimum,
    "prelu": _prelu,
}


def random_cases(family: str, seed: int, count: int, samples: int = 3) -> list:
    rng = np.random.default_rng(seed)
    return [make_case(rng, MAKERS[family](rng), samples) for _ in range(count)]
