"""The rule of CONSTANT (family "constant"), as the host's check (micronn.ops.constant)."""

from .model import size_of


def check(name, p, in_shapes, out_shape, counts):
    (size,) = p
    if size < 1 or size_of(out_shape) != size:
        return "size mismatch"
    if counts[0] != size:
        return f"its tensor has {counts[0]} values, not {size}"
    return None
