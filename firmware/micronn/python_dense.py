"""FULLY_CONNECTED in plain MicroPython integers: runs on every board, allocates nothing.

Every product is int8 x int8 and every partial sum is bounded by the container's 31-bit rule
(|bias| + in_features * 128 * wmax) * 2**left < 2**30, so all values stay small ints.
"""

from array import array

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
READ_ONLY = 3  # prepare and run only index weights and bias: ROMFS views do (placement.py)


def prepare(op, params, tensors):
    """Load time: the tuple run() reads; sub-byte weights get an int8 row to unpack into."""
    in_features, out_features, _, zero_point, act_min, act_max = params
    weights, bias, multiplier, shift = tensors
    unpack = _UNPACK[op.weight_bits]
    row = None if unpack is None else array("b", bytes(in_features))
    return (
        in_features,
        out_features,
        weights,
        unpack,
        row,
        bias,
        Requant(multiplier, shift, in_place=True),
        1 if len(multiplier) > 1 else 0,  # channel step: per-channel or per-tensor
        zero_point,
        act_min,
        act_max,
        act_min - zero_point,  # v below this clamps to act_min (compared before adding
        act_max - zero_point,  # the zero point, so a large v never overflows)
    )


def run(plan, a, b, out):
    """out[o] = clamp(requantize(bias[o] + sum_d W[o, d] * a[d]) + zero_point)."""
    run_rows(plan, a, out, plan[2], 0, plan[1])


def run_rows(plan, a, out, weights, first, count):
    """Outputs first .. first+count-1 only; weights[0] is W[first, 0] (the weight placement API:
    the rows may come from a streamed chunk of the file, starting on a byte boundary)."""
    n, m, _, unpack, row, bias, rq, step, zp, act_min, act_max, low, high = plan
    base = 0
    for o in range(first, first + count):
        acc = bias[o]
        if unpack is None:
            for d in range(n):
                acc += weights[base + d] * a[d]
        else:
            unpack(weights, base, n, row)
            for d in range(n):
                acc += row[d] * a[d]
        base += n
        v = requantize(acc, rq, o * step)
        if v < low:
            out[o] = act_min
        elif v > high:
            out[o] = act_max
        else:
            out[o] = v + zp
