"""FULLY_CONNECTED with the ulab backend: ulab.numpy.dot does the multiply-adds, the integers
stay exactly those of kernels_dense.

ulab's dot converts every element to float and accumulates in float (float32 on most boards).
A float32 holds every integer up to 2**24 exactly, so the inner dimension is cut into chunks of
at most CHUNK_LIMIT // (128 * wmax) columns (|x| <= 128, |w| <= wmax, the weight limit of the
layer's width): every partial sum of a chunk is an integer of magnitude <= 2**24, hence exact.
The chunk results are converted to ints and added, with the bias, as integers; requantization
is fixedpoint.py's, as in kernels_dense.

int4 / int2 weights are unpacked once at load into an int8 matrix (2x / 4x the packed bytes in
RAM). The module has no run_rows, so its layers keep their weights in RAM under every
placement.

Allocations per predict: np.dot returns a new float ndarray per chunk, and reading its elements
makes float objects (on ports whose floats are boxed). ulab offers no dot into a preallocated
array, so this backend is not allocation-free (see docs/ulab.md).
"""

from array import array

from ulab import numpy as np

from .fixedpoint import Requant, requantize

CHUNK_LIMIT = 1 << 24  # largest power of two below which float32 holds every integer
WEIGHT_LIMITS = {8: 127, 4: 7, 2: 1}  # |w| of each width (as the container rules check)


def chunk_length(in_features, weight_bits):
    """Columns per dot so that |sum| <= 2**24 whatever the int8 inputs (|x| <= 128)."""
    length = CHUNK_LIMIT // (128 * WEIGHT_LIMITS[weight_bits])
    return in_features if in_features < length else length


def _int8_matrix(weights, bits, count):
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
    """Load time: the weight matrix as ulab views, one per chunk of columns."""
    in_features, out_features, _, zero_point, act_min, act_max = params
    weights, bias, multiplier, shift = tensors
    matrix = _int8_matrix(weights, op.weight_bits, in_features * out_features)
    matrix = matrix.reshape((out_features, in_features))
    length = chunk_length(in_features, op.weight_bits)
    bounds = tuple((s, min(s + length, in_features)) for s in range(0, in_features, length))
    return (
        out_features,
        tuple(matrix[:, s:e] for s, e in bounds),
        bounds,
        [None, None],  # the input buffer last seen and its ulab views, one per chunk
        bias,
        array("i", bytes(4 * out_features)),  # accumulators
        Requant(multiplier, shift),
        1 if len(multiplier) > 1 else 0,
        zero_point,
        act_min,
        act_max,
        act_min - zero_point,
        act_max - zero_point,
    )


def run(plan, a, b, out):
    """out[o] = clamp(requantize(bias[o] + sum_d W[o, d] * a[d]) + zero_point)."""
    m, columns, bounds, seen, bias, acc, rq, step, zp, act_min, act_max, low, high = plan
    if seen[0] is not a:
        x = np.frombuffer(a, dtype=np.int8)
        seen[0], seen[1] = a, tuple(x[s:e] for s, e in bounds)
    inputs = seen[1]
    sums = np.dot(columns[0], inputs[0])
    for o in range(m):
        acc[o] = bias[o] + int(sums[o])
    for c in range(1, len(columns)):
        sums = np.dot(columns[c], inputs[c])
        for o in range(m):
            acc[o] += int(sums[o])
    for o in range(m):
        v = requantize(acc[o], rq, o * step)
        if v < low:
            out[o] = act_min
        elif v > high:
            out[o] = act_max
        else:
            out[o] = v + zp
