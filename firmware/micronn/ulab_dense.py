"""FULLY_CONNECTED with the ulab backend: ulab.numpy.dot does the multiply-adds, the integers
stay exactly those of python_dense.

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


class Plan:
    """A layer prepared at load: the weight matrix as ulab views, one per chunk of columns."""

    def __init__(self, op, params, tensors):
        in_features, out_features, _, zero_point, act_min, act_max = params
        weights, bias, multipliers, shifts = tensors
        matrix = int8_values(weights, op.weight_bits, in_features * out_features)
        matrix = matrix.reshape((out_features, in_features))
        length = chunk_length(in_features, op.weight_bits)
        self.bounds = tuple(
            (s, min(s + length, in_features)) for s in range(0, in_features, length)
        )
        self.columns = tuple(matrix[:, s:e] for s, e in self.bounds)
        self.requantizer = ulab_requant.Requantizer(
            bias,
            128 * WEIGHT_LIMITS[op.weight_bits] * in_features,
            len(self.bounds),
            multipliers,
            shifts,
            zero_point,
            act_min,
            act_max,
        )
        self.input = None  # the input buffer last seen, and its ulab views, one per chunk
        self.inputs = None
        self.output = None  # the output buffer last seen, and its ulab view
        self.outputs = None

    def views(self, a, out):
        """The input's chunk views and the output's view, made once per buffer."""
        if self.input is not a:
            x = np.frombuffer(a, dtype=np.int8)
            self.input, self.inputs = a, tuple(x[s:e] for s, e in self.bounds)
        if self.output is not out:
            self.output, self.outputs = out, np.frombuffer(out, dtype=np.int8)
        return self.inputs, self.outputs

    def exact_sum(self, inputs, o):
        """bias[o] + the row's dot, as an integer: each chunk's dot is exact."""
        total = self.requantizer.bias[o]
        for c in range(len(self.columns)):
            total += int(np.dot(self.columns[c][o], inputs[c]))
        return total


def prepare(op, params, tensors):
    return Plan(op, params, tensors)


def run(plan, a, b, out):
    """out[o] = clamp(requantize(bias[o] + sum_d W[o, d] * a[d]) + zero_point)."""
    inputs, outputs = plan.views(a, out)
    columns, q = plan.columns, plan.requantizer
    if not q.vectorized:  # every output with integers, from exact chunk dots
        totals = list(q.bias)
        for c in range(len(columns)):
            sums = np.dot(columns[c], inputs[c])
            for o in range(len(totals)):
                totals[o] += int(sums[o])
        for o in range(len(totals)):
            q.store(out, o, o, totals[o])
        return
    acc = np.dot(columns[0], inputs[0])
    for c in range(1, len(columns)):
        acc += np.dot(columns[c], inputs[c])
    redo = ulab_requant.requantize(acc, q, outputs)
    if redo is not None:
        for o in redo[0]:
            o = int(o)
            q.store(out, o, o, int(acc[o]) if q.sums_exact else plan.exact_sum(inputs, o))
