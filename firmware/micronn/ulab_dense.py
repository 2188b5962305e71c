"""FULLY_CONNECTED with the ulab backend: ulab.numpy.dot does the multiply-adds, the integers
stay exactly those of kernels_dense.

ulab's dot converts every element to float and accumulates in float (float32 on most boards).
A float32 holds every integer up to 2**24 exactly, so the inner dimension is cut into chunks of
at most CHUNK_LIMIT // (128 * wmax) columns (|x| <= 128, |w| <= wmax, the weight limit of the
layer's width): every partial sum of a chunk is an integer of magnitude <= 2**24, hence exact.
Requantization is ulab_requant's: vectorized, with exact recomputation where float could
decide the result.

int4 / int2 weights are unpacked once at load into an int8 matrix (2x / 4x the packed bytes in
RAM). The module has no run_rows, so its layers keep their weights in RAM under every
placement.

Allocations per predict: each ulab operation returns a new ndarray (ulab has no dot into a
preallocated array, and even its in-place operators allocate their shape bookkeeping), so this
backend is not allocation-free (see docs/ulab.md).
"""

from array import array

from ulab import numpy as np

from . import ulab_requant
from .fixedpoint import Requant, requantize

WEIGHT_LIMITS = {8: 127, 4: 7, 2: 1}  # |w| of each width (as the container rules check)


def chunk_length(in_features, weight_bits):
    """Columns per dot so that |sum| <= 2**24 whatever the int8 inputs (|x| <= 128)."""
    length = ulab_requant.CHUNK_LIMIT // (128 * WEIGHT_LIMITS[weight_bits])
    return in_features if in_features < length else length


def int8_values(weights, bits, count):
    """The weights as `count` int8 values (sub-byte widths unpacked, low bits first)."""
    if bits == 8:
        return np.frombuffer(weights, dtype=np.int8)
    per_byte = 8 // bits
    mask = (1 << bits) - 1
    sign = 1 << (bits - 1)
    values = array("b", bytes(count))
    for k in range(count):
        values[k] = (((weights[k // per_byte] >> ((k % per_byte) * bits)) & mask) ^ sign) - sign
    return np.frombuffer(values, dtype=np.int8)


def prepare(op, params, tensors):
    """Load time: the weight matrix as ulab views, one per chunk of columns, and the constants
    of the vectorized requantization (None: the exact integer path for every output)."""
    in_features, out_features, _, zero_point, act_min, act_max = params
    weights, bias, multiplier, shift = tensors
    matrix = int8_values(weights, op.weight_bits, in_features * out_features)
    matrix = matrix.reshape((out_features, in_features))
    length = chunk_length(in_features, op.weight_bits)
    bounds = tuple((s, min(s + length, in_features)) for s in range(0, in_features, length))
    reach = 128 * WEIGHT_LIMITS[op.weight_bits] * in_features
    return (
        out_features,
        tuple(matrix[:, s:e] for s, e in bounds),
        bounds,
        [None, None, None, None],  # input buffer and its chunk views; output buffer and view
        bias,
        array("i", bytes(4 * out_features)),  # accumulators of the exact path
        Requant(multiplier, shift),
        1 if len(multiplier) > 1 else 0,
        zero_point,
        act_min,
        act_max,
        act_min - zero_point,
        act_max - zero_point,
        ulab_requant.prepare(bias, reach, len(bounds), multiplier, shift, zero_point),
    )


def run(plan, a, b, out):
    """out[o] = clamp(requantize(bias[o] + sum_d W[o, d] * a[d]) + zero_point)."""
    columns, seen, constants = plan[1], plan[3], plan[13]
    if seen[0] is not a:
        x = np.frombuffer(a, dtype=np.int8)
        seen[0], seen[1] = a, tuple(x[s:e] for s, e in plan[2])
    inputs = seen[1]
    if constants is None:
        _run_exact(plan, columns, inputs, out)
        return
    if seen[2] is not out:
        seen[2], seen[3] = out, np.frombuffer(out, dtype=np.int8)
    acc = np.dot(columns[0], inputs[0])
    for c in range(1, len(columns)):
        acc += np.dot(columns[c], inputs[c])
    redo = ulab_requant.requantize(acc, constants, plan[9], plan[10], seen[3])
    if redo is not None:
        for o in redo[0]:
            o = int(o)
            if constants[4]:
                total = int(acc[o])  # exact: every partial sum was an integer <= 2**24
            else:
                total = plan[4][o]
                for c in range(len(columns)):
                    total += int(np.dot(columns[c][o], inputs[c]))
            _store(plan, o, requantize(total, plan[6], o * plan[7]), out)


def _store(plan, o, v, out):
    if v < plan[11]:
        out[o] = plan[9]
    elif v > plan[12]:
        out[o] = plan[10]
    else:
        out[o] = v + plan[8]


def _run_exact(plan, columns, inputs, out):
    m, acc, rq, step = plan[0], plan[5], plan[6], plan[7]
    sums = np.dot(columns[0], inputs[0])
    for o in range(m):
        acc[o] = plan[4][o] + int(sums[o])
    for c in range(1, len(columns)):
        sums = np.dot(columns[c], inputs[c])
        for o in range(m):
            acc[o] += int(sums[o])
    for o in range(m):
        _store(plan, o, requantize(acc[o], rq, o * step), out)
