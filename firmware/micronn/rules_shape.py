"""The rules of the data-movement operators (family "shape": CONCATENATION), as the host's
checks (micronn.ops.concatenation); rules.check imports this module for a model that uses them.
check() returns what is wrong, or None."""

from .model import size_of

try:
    from micropython import const
except ImportError:  # CPython, in the tests
    const = int

# BEGIN GENERATED parameter indices (python -m micronn.device_tables)
# END GENERATED


def _concatenation(p, in_shapes, out_shape, counts):
    outer, inner1, inner2 = p
    if outer < 1 or inner1 < 1 or inner2 < 1:
        return "outer and inners must be >= 1"
    if size_of(in_shapes[0]) != outer * inner1:
        return "input 1 is not outer x inner1"
    if size_of(in_shapes[1]) != outer * inner2:
        return "input 2 is not outer x inner2"
    if size_of(out_shape) != outer * (inner1 + inner2):
        return "the output is not outer x (inner1 + inner2)"
    return None


_CHECKS = {"CONCATENATION": _concatenation}


def check(name, params, in_shapes, out_shape, counts):
    return _CHECKS[name](params, in_shapes, out_shape, counts)
