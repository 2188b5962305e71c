"""The data-movement operators (family "shape"): they copy int8 codes, as TFLM's int8 kernels
do, and allocate nothing in run. Every index is below the size of its tensor (the container
rules, rules_shape.py), so every intermediate is a small int on a board.

CONCATENATION: rows of input 1 and input 2 in turn (outer x [inner1 | inner2]).
PAD: the whole output set to the pad value, then each input row copied to its place.
TRANSPOSE, STRIDED_SLICE: the output walked as 4 dims, the input read at offset + sum(i_k x
stride_k); the input holds fewer than 2^29 codes, so even the index one stride past the walk is
a small int.
"""

_CONCATENATION = 0
_PAD = 1
_WALK = 2


def prepare(op, params, tensors):
    name = op.name
    if name == "CONCATENATION":
        return (_CONCATENATION, params[0], params[1], params[2])
    if name == "PAD":
        dims, before = params[0:4], params[4:8]
        out_dims = [dims[k] + before[k] + params[8 + k] for k in range(4)]
        return (_PAD, tuple(dims), tuple(before), tuple(out_dims[1:]), params[12])
    if name == "TRANSPOSE":
        return (_WALK, 0, tuple(params[0:4]), tuple(params[4:8]))
    if name == "STRIDED_SLICE":
        return (_WALK, params[0], tuple(params[1:5]), tuple(params[5:9]))
    raise ValueError(f"python_shape does not run {name}; update micronn")


def _concatenation(plan, a, b, out):
    _, outer, inner1, inner2 = plan
    i = j1 = j2 = 0
    for _ in range(outer):
        for _ in range(inner1):
            out[i] = a[j1]
            i += 1
            j1 += 1
        for _ in range(inner2):
            out[i] = b[j2]
            i += 1
            j2 += 1


def _pad(plan, a, out):
    _, dims, before, out_dims, value = plan
    d0, d1, d2, d3 = dims
    b0, b1, b2, b3 = before
    o1, o2, o3 = out_dims
    for i in range(len(out)):
        out[i] = value
    j = 0
    for i0 in range(d0):
        for i1 in range(d1):
            for i2 in range(d2):
                k = (((i0 + b0) * o1 + i1 + b1) * o2 + i2 + b2) * o3 + b3
                for _ in range(d3):
                    out[k] = a[j]
                    k += 1
                    j += 1


def _walk(plan, a, out):
    _, offset, dims, strides = plan
    d0, d1, d2, d3 = dims
    s0, s1, s2, s3 = strides
    i = 0
    for i0 in range(d0):
        j0 = offset + i0 * s0
        for i1 in range(d1):
            j1 = j0 + i1 * s1
            for i2 in range(d2):
                j = j1 + i2 * s2
                for _ in range(d3):
                    out[i] = a[j]
                    i += 1
                    j += s3


def run(plan, a, b, out):
    kind = plan[0]
    if kind == _CONCATENATION:
        _concatenation(plan, a, b, out)
    elif kind == _PAD:
        _pad(plan, a, out)
    else:
        _walk(plan, a, out)
