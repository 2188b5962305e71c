"""The data-movement operators (family "shape"): they copy int8 codes, as TFLM's int8 kernels
do, and allocate nothing in run. Every index is below the size of its tensor (the container
rules, rules_shape.py), so every intermediate is a small int on a board.

CONCATENATION: rows of input 1 and input 2 in turn (outer x [inner1 | inner2]).
"""

_CONCATENATION = 0


def prepare(op, params, tensors):
    name = op.name
    if name == "CONCATENATION":
        return (_CONCATENATION, params[0], params[1], params[2])
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


def run(plan, a, b, out):
    kind = plan[0]
    if kind == _CONCATENATION:
        _concatenation(plan, a, b, out)
