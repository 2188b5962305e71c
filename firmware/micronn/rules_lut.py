"""The rule of REQUANTIZE (family "lut"; LOGISTIC and TANH keep theirs in rules.py), as the
host's check (micronn.ops.requantize, ops/lookup.py); rules.check imports this module for a
model that uses it. check() returns what is wrong, or None."""

from .model import size_of


def check(name, p, in_shapes, out_shape, counts):
    (size,) = p
    if not size_of(in_shapes[0]) == size == size_of(out_shape):
        return "input, output and size disagree"
    if counts[0] != 256:
        return f"its lookup table has {counts[0]} entries, not 256"
    return None
