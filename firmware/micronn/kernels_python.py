"""FULLY_CONNECTED in plain MicroPython integers: runs on every board, allocates nothing.

Every product is int8 x int8 and every partial sum is bounded by the container's 31-bit rule
(|bias| + in_features * 128 * wmax) * 2**left < 2**30, so all values stay small ints.
"""

from .fixedpoint import Requant, requantize


def _unpack_int4(packed, start, count, row):
    """Elements start..start+count-1 of a low-nibble-first int4 stream into row[0:count]."""
    k = start
    for d in range(count):
        byte = packed[k >> 1]
        if k & 1:
            byte >>= 4
        row[d] = ((byte & 0xF) ^ 8) - 8
        k += 1


def _unpack_int2(packed, start, count, row):
    """Elements start..start+count-1 of a low-bits-first int2 stream into row[0:count]."""
    k = start
    for d in range(count):
        row[d] = (((packed[k >> 2] >> ((k & 3) << 1)) & 3) ^ 2) - 2
        k += 1


_UNPACK = {8: None, 4: _unpack_int4, 2: _unpack_int2}


def prepare(layer, row):
    """Load-time: the tuple fully_connected reads. `row` is int8 scratch for sub-byte weights."""
    requant = Requant(layer.multiplier, layer.shift)
    channel_step = 1 if len(layer.multiplier) > 1 else 0
    zero_point = layer.output_zero_point
    return (
        layer.in_features,
        layer.out_features,
        layer.weights,
        _UNPACK[layer.weight_bits],
        row,
        layer.bias,
        requant,
        channel_step,
        zero_point,
        layer.act_min,
        layer.act_max,
        layer.act_min - zero_point,  # v below this clamps to act_min (compared before adding
        layer.act_max - zero_point,  # the zero point, so a large v never overflows)
    )


def fully_connected(params, x, y):
    """y[o] = clamp(requantize(bias[o] + sum_d W[o, d] * x[d]) + zero_point)."""
    n, m, weights, unpack, row, bias, rq, step, zp, act_min, act_max, low, high = params
    base = 0
    for o in range(m):
        acc = bias[o]
        if unpack is None:
            for d in range(n):
                acc += weights[base + d] * x[d]
        else:
            unpack(weights, base, n, row)
            for d in range(n):
                acc += row[d] * x[d]
        base += n
        v = requantize(acc, rq, o * step)
        if v < low:
            y[o] = act_min
        elif v > high:
            y[o] = act_max
        else:
            y[o] = v + zp
