"""The rule of LOOKUP (family "lut"; LOGISTIC and TANH keep theirs in rules.py), as the host's
check (micronn.ops.unary); rules.check imports this module only for a model that uses it."""

from .model import size_of


def check(name, p, in_shapes, out_shape, counts):
    size, source = p
    if not 0 <= source <= 255:
        return f"source {source} is outside 0..255"
    if not size_of(in_shapes[0]) == size == size_of(out_shape):
        return "input, output and size disagree"
    if counts[0] != 256:
        return f"its lookup table has {counts[0]} entries, not 256"
    return None
