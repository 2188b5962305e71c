"""FULLY_CONNECTED with the ulab backend: ulab.numpy.dot does the multiply-adds, the integers
stay exactly those of kernels_dense.

ulab's dot converts every element to float and accumulates in float (float32 on most boards).
A float32 holds every integer up to 2**24 exactly, so the inner dimension is cut into chunks of
at most CHUNK_LIMIT // (128 * wmax) columns (|x| <= 128, |w| <= wmax, the weight limit of the
layer's width): every partial sum of a chunk is an integer of magnitude <= 2**24, hence exact.

Requantization is vectorized (docs/ulab.md, "Exact requantization in float"): t = acc * scale
+ zero_point is rounded with ulab, and an output is recomputed with fixedpoint.py's exact
integers only when t lies so near a half-integer that the float error or TFLite's double
rounding could decide the result. The nearness limit of each output is computed at load from
its shift and worst-case accumulator (rounding_limits).

int4 / int2 weights are unpacked once at load into an int8 matrix (2x / 4x the packed bytes in
RAM). The module has no run_rows, so its layers keep their weights in RAM under every
placement.

Allocations per predict: each ulab operation returns a new ndarray (ulab has no dot into a
preallocated array, and even its in-place operators allocate their shape bookkeeping), so this
backend is not allocation-free (see docs/ulab.md).
"""

from array import array

from ulab import numpy as np

from .fixedpoint import Requant, requantize

CHUNK_LIMIT = 1 << 24  # largest power of two below which float32 holds every integer
WEIGHT_LIMITS = {8: 127, 4: 7, 2: 1}  # |w| of each width (as the container rules check)
UNIT_ROUNDOFF = 2.0**-24  # float32's relative rounding error (float64 boards do better)
ROUNDING_SLACK = 2.0**-13  # > float error of t wherever the output does not saturate
WIDEST_MARGIN = 0.25  # wider margins would send too many outputs to the exact path


def chunk_length(in_features, weight_bits):
    """Columns per dot so that |sum| <= 2**24 whatever the int8 inputs (|x| <= 128)."""
    length = CHUNK_LIMIT // (128 * WEIGHT_LIMITS[weight_bits])
    return in_features if in_features < length else length


def rounding_limits(in_features, weight_bits, bias, multipliers, shifts, chunks):
    """Per output, the largest |t - round(t)| that round(t) may be trusted with, where
    t = acc * scale + zero_point in float; -1.0 where every result must be computed exactly.

    An output is recomputed with integers when t lies within a margin of a half-integer:
    - double rounding: TFLite rounds acc * multiplier / 2**31 to an integer, then divides by
      2**right rounding again; the result is the integer nearest to the exact t whenever t is
      more than 2**-(right + 1) from a half-integer (no such zone when right is 0);
    - float error: every chunk sum is exact; the float sums of chunks and bias are exact while
      the output's worst-case accumulator stays within 2**24, else off by at most
      (chunks + 2) roundings of it; scale, product and zero point add a few roundings of |t|,
      covered by ROUNDING_SLACK for |t| <= 512 (beyond, the output saturates either way).
    """
    step = 1 if len(multipliers) > 1 else 0
    reach = 128 * WEIGHT_LIMITS[weight_bits] * in_features
    limits = []
    for o in range(len(bias)):
        c = o * step
        right = -shifts[c] if shifts[c] < 0 else 0
        if right > 30:
            limits.append(0.5)  # the output is 0 exactly: scale 0, t = zero_point
            continue
        worst = abs(bias[o]) + reach
        acc_error = 0.0 if worst <= CHUNK_LIMIT else (chunks + 2) * UNIT_ROUNDOFF * worst
        zone = 0.5 ** (right + 1) if right else 0.0
        margin = zone + acc_error * _scale(multipliers[c], shifts[c]) + ROUNDING_SLACK
        limits.append(0.5 - margin if margin <= WIDEST_MARGIN else -1.0)
    return limits


def _scale(multiplier, shift):
    """multiplier * 2**(shift - 31) within one rounding (0 where TFLite's result is 0)."""
    if shift < -30:
        return 0.0
    return float(multiplier) / (1 << (31 - shift))  # an exact power of two: exact division


def _scales(multipliers, shifts, count):
    step = 1 if len(multipliers) > 1 else 0
    return np.array([_scale(multipliers[o * step], shifts[o * step]) for o in range(count)])


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
    """Load time: the weight matrix as ulab views, one per chunk of columns; float constants of
    the vectorized requantization, or None where the layer takes the exact path throughout."""
    in_features, out_features, _, zero_point, act_min, act_max = params
    weights, bias, multiplier, shift = tensors
    matrix = _int8_matrix(weights, op.weight_bits, in_features * out_features)
    matrix = matrix.reshape((out_features, in_features))
    length = chunk_length(in_features, op.weight_bits)
    bounds = tuple((s, min(s + length, in_features)) for s in range(0, in_features, length))
    limits = rounding_limits(in_features, op.weight_bits, bias, multiplier, shift, len(bounds))
    vectorized = None
    if max(limits) > 0:
        vectorized = (
            np.array([float(v) for v in bias]),
            _scales(multiplier, shift, out_features),
            float(zero_point),
            np.array(limits),
        )
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
        vectorized,
    )


def run(plan, a, b, out):
    """out[o] = clamp(requantize(bias[o] + sum_d W[o, d] * a[d]) + zero_point)."""
    columns, seen, vectorized = plan[1], plan[3], plan[13]
    if seen[0] is not a:
        x = np.frombuffer(a, dtype=np.int8)
        seen[0], seen[1] = a, tuple(x[s:e] for s, e in plan[2])
    inputs = seen[1]
    if vectorized is None:
        _run_exact(plan, columns, inputs, out)
        return
    if seen[2] is not out:
        seen[2], seen[3] = out, np.frombuffer(out, dtype=np.int8)
    bias, scale, zero_point, limits = vectorized
    t = np.dot(columns[0], inputs[0])
    for c in range(1, len(columns)):
        t += np.dot(columns[c], inputs[c])
    t += bias
    t *= scale
    t += zero_point
    rounded = np.around(t)
    t -= rounded
    seen[3][:] = np.clip(rounded, plan[9], plan[10])
    t = abs(t)
    t -= limits
    if np.max(t) > 0:
        for o in np.nonzero(t > 0)[0]:
            _exact_output(plan, columns, inputs, int(o), out)


def _exact_output(plan, columns, inputs, o, out):
    """One output with integers only: the chunk dots of row o are exact, their sum is not."""
    acc = plan[4][o]
    for c in range(len(columns)):
        acc += int(np.dot(columns[c][o], inputs[c]))
    _store(plan, o, requantize(acc, plan[6], o * plan[7]), out)


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
