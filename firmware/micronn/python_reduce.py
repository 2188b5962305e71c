"""REDUCE_MAX, MEAN_AXES and SUM over any axes in plain MicroPython integers (TFLM's int8
reference kernels: ReduceGeneric, QuantizedMeanOrSum).

prepare folds the 4 dims into at most two kept and two reduced groups (size-1 dims dropped,
neighbours with the same role merged), each an (extent, stride) pair; run walks the kept ones
and, for each output, the reduced ones. A sum holds at most 255 x count < 2**30 (the container's
rule), so every value is a small int.
"""

from .fixedpoint import Requant, requantize

MAX = 0
MEAN_OR_SUM = 1


def _groups(dims, flags):
    """([(extent, stride)] kept, [(extent, stride)] reduced), each padded to 2 groups."""
    stride = 1
    strides = [0, 0, 0, 0]
    for k in range(3, -1, -1):
        strides[k] = stride
        stride *= dims[k]
    kept, reduced = [], []
    last = -1
    for k in range(4):
        if dims[k] == 1:
            continue
        groups = reduced if flags[k] else kept
        if last == flags[k]:  # merge into the previous group: its stride shrinks
            extent, _ = groups[-1]
            groups[-1] = (extent * dims[k], strides[k])
        else:
            groups.append((dims[k], strides[k]))
        last = flags[k]
    while len(kept) < 2:
        kept.insert(0, (1, 0))
    while len(reduced) < 2:
        reduced.insert(0, (1, 0))
    return tuple(kept), tuple(reduced)


def prepare(op, params, tensors):
    dims, flags = params[0:4], params[4:8]
    kept, reduced = _groups(dims, flags)
    count = 1
    for k in range(4):
        if flags[k]:
            count *= dims[k]
    if op.name == "REDUCE_MAX":
        return (MAX, kept, reduced, 0, 0, None)
    if op.name not in ("MEAN_AXES", "SUM"):
        raise ValueError(f"python_reduce does not run {op.name}; update micronn")
    input_zp, output_zp, multiplier, shift = params[8:12]
    # TFLM's QuantizedMeanOrSum clamps to the int8 range only (no activation)
    return (MEAN_OR_SUM, kept, reduced, input_zp * count, output_zp, Requant([multiplier], [shift]))


def run(plan, a, b, out):
    kind, kept, reduced, offset, output_zp, rq = plan
    (k0, ks0), (k1, ks1) = kept
    (r0, rs0), (r1, rs1) = reduced
    at = 0
    for i0 in range(k0):
        for i1 in range(k1):
            base = i0 * ks0 + i1 * ks1
            if kind == MAX:
                best = -128
                for j0 in range(r0):
                    p = base + j0 * rs0
                    for _ in range(r1):
                        if a[p] > best:
                            best = a[p]
                        p += rs1
                out[at] = best
            else:
                total = -offset
                for j0 in range(r0):
                    p = base + j0 * rs0
                    for _ in range(r1):
                        total += a[p]
                        p += rs1
                v = requantize(total, rq, 0)
                # compared before adding the zero point, so a large v never leaves the small ints
                if v < -128 - output_zp:
                    out[at] = -128
                elif v > 127 - output_zp:
                    out[at] = 127
                else:
                    out[at] = v + output_zp
            at += 1
