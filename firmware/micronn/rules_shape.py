"""The rules of the data-movement operators (family "shape": CONCATENATION, PAD, TRANSPOSE,
STRIDED_SLICE), as the host's checks (micronn.ops.concatenation, .pad, .strided); rules.check
imports this module for a model that uses them. check() returns what is wrong, or None."""

from .model import size_of

try:
    from micropython import const
except ImportError:  # CPython, in the tests
    const = int

# BEGIN GENERATED parameter indices (python -m micronn.device_tables)
_PAD_IN_DIM0 = const(0)
_PAD_IN_DIM3 = const(3)
_PAD_PAD_AFTER3 = const(11)
_PAD_PAD_BEFORE0 = const(4)
_PAD_VALUE = const(12)
_STRIDED_SLICE_IN_STRIDE0 = const(5)
_STRIDED_SLICE_IN_STRIDE3 = const(8)
_STRIDED_SLICE_OFFSET = const(0)
_STRIDED_SLICE_OUT_DIM0 = const(1)
_STRIDED_SLICE_OUT_DIM3 = const(4)
_TRANSPOSE_IN_STRIDE0 = const(4)
_TRANSPOSE_IN_STRIDE3 = const(7)
_TRANSPOSE_OUT_DIM0 = const(0)
_TRANSPOSE_OUT_DIM3 = const(3)
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


def _product(values):
    total = 1
    for value in values:
        total *= value
    return total


def _pad(p, in_shapes, out_shape, counts):
    dims = p[_PAD_IN_DIM0 : _PAD_IN_DIM3 + 1]
    amounts = p[_PAD_PAD_BEFORE0 : _PAD_PAD_AFTER3 + 1]
    for d in dims:
        if not 1 <= d <= 0xFFFF:
            return "dims must be in 1..65535"
    for amount in amounts:
        if not 0 <= amount <= 0xFFFF:
            return "pad amounts must be in 0..65535"
    if not -128 <= p[_PAD_VALUE] <= 127:
        return "the pad value is outside -128..127"
    if size_of(in_shapes[0]) != _product(dims):
        return "the input tensor size disagrees with the dims"
    padded = [dims[k] + amounts[k] + amounts[4 + k] for k in range(4)]
    if size_of(out_shape) != _product(padded):
        return "the output tensor size disagrees with the padded dims"
    return None


def _walk(offset, dims, strides, low_stride, in_shapes, out_shape):
    """The strided walk of TRANSPOSE and STRIDED_SLICE (ops/strided.py)."""
    for d in dims:
        if not 1 <= d <= 0xFFFF:
            return "dims must be in 1..65535"
    for s in strides:
        if not low_stride < s < 1 << 24:
            return f"strides must be in {low_stride + 1}..2^24"
    if size_of(out_shape) != _product(dims):
        return "the output tensor size disagrees with the dims"
    size = size_of(in_shapes[0])
    if size >= 1 << 29:
        return "the input must hold fewer than 2^29 codes"
    low = high = offset
    for k in range(4):
        span = (dims[k] - 1) * strides[k]
        if span < 0:
            low += span
        else:
            high += span
    if low < 0 or high >= size:
        return "the walk leaves the input"
    return None


def _transpose(p, in_shapes, out_shape, counts):
    dims = p[_TRANSPOSE_OUT_DIM0 : _TRANSPOSE_OUT_DIM3 + 1]
    strides = p[_TRANSPOSE_IN_STRIDE0 : _TRANSPOSE_IN_STRIDE3 + 1]
    return _walk(0, dims, strides, -1, in_shapes, out_shape)


def _strided_slice(p, in_shapes, out_shape, counts):
    offset = p[_STRIDED_SLICE_OFFSET]
    if not 0 <= offset < 1 << 29:
        return "offset must be in 0..2^29"
    dims = p[_STRIDED_SLICE_OUT_DIM0 : _STRIDED_SLICE_OUT_DIM3 + 1]
    strides = p[_STRIDED_SLICE_IN_STRIDE0 : _STRIDED_SLICE_IN_STRIDE3 + 1]
    return _walk(offset, dims, strides, -(1 << 24), in_shapes, out_shape)


_CHECKS = {
    "CONCATENATION": _concatenation,
    "PAD": _pad,
    "TRANSPOSE": _transpose,
    "STRIDED_SLICE": _strided_slice,
}


def check(name, params, in_shapes, out_shape, counts):
    return _CHECKS[name](params, in_shapes, out_shape, counts)
