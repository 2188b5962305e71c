"""Random quantized dense stacks that respect every container rule, for equivalence tests."""

import numpy as np

from micronn.fixedpoint import quantize_multiplier
from micronn.model import WEIGHT_LIMITS, FullyConnected, Model, TensorSpec

SMALL_INT_LIMIT = 2**30


def _zero_point(rng) -> int:
    return int(rng.choice([-128, 127, 0, int(rng.integers(-128, 128))]))


def _weights(rng, out_features, in_features, bits) -> np.ndarray:
    limit = WEIGHT_LIMITS[bits]
    style = rng.integers(3)
    if style == 0:
        return rng.choice([-limit, limit], size=(out_features, in_features)).astype(np.int8)
    values = rng.integers(-limit, limit + 1, size=(out_features, in_features))
    if style == 1:
        values[rng.random(values.shape) < 0.7] = 0
    return values.astype(np.int8)


def _multiplier(rng, in_features, bits):
    """A real multiplier across ~10 orders of magnitude, kept inside the 31-bit bound."""
    dot = in_features * 128 * WEIGHT_LIMITS[bits]
    while True:
        real = 10.0 ** rng.uniform(-9, 1.5)
        quantized, shift = quantize_multiplier(real)
        left = max(shift, 0)
        room = (SMALL_INT_LIMIT >> left) - 1 - dot
        if room >= 0:
            return quantized, shift, room


def random_dense_layer(rng, in_features, out_features, bits, per_channel, activation):
    channels = out_features if per_channel else 1
    picks = [_multiplier(rng, in_features, bits) for _ in range(channels)]
    multiplier = np.array([p[0] for p in picks], dtype=np.int32)
    shift = np.array([p[1] for p in picks], dtype=np.int32)
    room = np.array([p[2] for p in picks], dtype=np.int64)
    room = np.broadcast_to(room, (out_features,))
    bias = np.array([rng.integers(-r, r + 1) for r in room], dtype=np.int64)
    extreme = rng.random(out_features) < 0.2
    bias[extreme] = room[extreme] * rng.choice([-1, 1], size=int(extreme.sum()))
    out_zp = _zero_point(rng)
    act_min, act_max = -128, 127
    if activation in ("relu", "relu6"):
        act_min = out_zp
    if activation == "relu6":
        act_max = int(min(127, out_zp + rng.integers(0, 256)))
    return FullyConnected(
        weights=_weights(rng, out_features, in_features, bits),
        bias=bias.astype(np.int32),
        multiplier=multiplier,
        shift=shift,
        input_zero_point=_zero_point(rng),
        output_zero_point=out_zp,
        act_min=act_min,
        act_max=act_max,
        activation=activation,
        weight_bits=bits,
    )


def random_dense_model(rng, bits=None, per_channel=None, activation=None, max_width=40):
    """A 1-4 layer stack; unspecified options are drawn at random per layer."""
    widths = [int(w) for w in rng.integers(1, max_width + 1, size=int(rng.integers(2, 6)))]
    layers = []
    for in_features, out_features in zip(widths, widths[1:], strict=False):
        layers.append(
            random_dense_layer(
                rng,
                in_features,
                out_features,
                bits or int(rng.choice([8, 4, 2])),
                bool(rng.integers(2)) if per_channel is None else per_channel,
                activation or str(rng.choice(["none", "relu", "relu6"])),
            )
        )
    scale = lambda: float(np.float32(10.0 ** rng.uniform(-6, 3)))  # noqa: E731
    return Model(
        TensorSpec((widths[0],), scale(), _zero_point(rng)),
        TensorSpec((widths[-1],), scale(), _zero_point(rng)),
        layers,
    )


def random_inputs(rng, model: Model, batch: int) -> np.ndarray:
    """int8 inputs including the extreme codes."""
    x = rng.integers(-128, 128, size=(batch, model.input.size))
    x[0] = -128
    if batch > 1:
        x[1] = 127
    return x.astype(np.int8)
