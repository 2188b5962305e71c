"""The rules of the element-wise operators with broadcasting (family "broadcast": MUL, SUB,
ADD_BROADCAST, MAXIMUM, MINIMUM, PRELU), as the host's checks (micronn.ops.mul, sub,
add_broadcast, maximum_minimum, prelu, ops/broadcast.py); rules.check imports this module for a
model that uses them. check() returns what is wrong, or None."""

from .model import size_of
from .rules import _clamp, _int8_range
from .values import multiplier_problem

try:
    from micropython import const
except ImportError:  # CPython, in the tests
    const = int

# BEGIN GENERATED parameter indices (python -m micronn.device_tables)
_MUL_ACT_MAX = const(18)
_MUL_ACT_MIN = const(17)
_MUL_INPUT1_STRIDE0 = const(4)
_MUL_INPUT1_ZERO_POINT = const(12)
_MUL_INPUT2_STRIDE0 = const(8)
_MUL_INPUT2_ZERO_POINT = const(13)
_MUL_OUTPUT_MULTIPLIER = const(15)
_MUL_OUTPUT_SHIFT = const(16)
_MUL_OUTPUT_ZERO_POINT = const(14)
_MUL_OUT_DIM0 = const(0)
_MUL_OUT_DIM3 = const(3)
_PRELU_ALPHA_MULTIPLIER = const(17)
_PRELU_ALPHA_OFFSET = const(13)
_PRELU_IDENTITY_MULTIPLIER = const(15)
_PRELU_INPUT_OFFSET = const(12)
_PRELU_OUTPUT_OFFSET = const(14)
_SUB_ACT_MAX = const(23)
_SUB_ACT_MIN = const(22)
_SUB_INPUT1_MULTIPLIER = const(16)
_SUB_INPUT1_OFFSET = const(12)
_SUB_INPUT1_SHIFT = const(17)
_SUB_LEFT_SHIFT = const(15)
# END GENERATED


def _broadcast(p, in_shapes):
    """The geometry of the element-wise operators with broadcasting (ops/broadcast.py): four
    output dims, then four strides per input; every index a stride reaches is inside its input."""
    for k in range(4):
        if not 1 <= p[_MUL_OUT_DIM0 + k] <= 0xFFFF:
            return "output dims must be in 1..65535"
    for number, strides in ((0, _MUL_INPUT1_STRIDE0), (1, _MUL_INPUT2_STRIDE0)):
        last = 0
        for k in range(4):
            stride = p[strides + k]
            if not 0 <= stride < 1 << 24:
                return "strides must be in 0..2^24"
            last += (p[_MUL_OUT_DIM0 + k] - 1) * stride
        if last >= size_of(in_shapes[number]):
            return f"input {number + 1} is smaller than its strides reach"
    return None


def _geometry(p, in_shapes, out_shape):
    problem = _broadcast(p, in_shapes)
    if problem:
        return problem
    dims = p[_MUL_OUT_DIM0 : _MUL_OUT_DIM3 + 1]
    if size_of(out_shape) != dims[0] * dims[1] * dims[2] * dims[3]:
        return "output tensor size disagrees with the dims"
    return None


def _mul(p, in_shapes, out_shape, counts):
    problem = _int8_range(
        "input1 zero point",
        p[_MUL_INPUT1_ZERO_POINT],
        "input2 zero point",
        p[_MUL_INPUT2_ZERO_POINT],
        "output zero point",
        p[_MUL_OUTPUT_ZERO_POINT],
    )
    problem = problem or _clamp(p[_MUL_ACT_MIN], p[_MUL_ACT_MAX]) or _broadcast(p, in_shapes)
    if problem:
        return problem
    dims = p[_MUL_OUT_DIM0 : _MUL_OUT_DIM3 + 1]
    if size_of(out_shape) != dims[0] * dims[1] * dims[2] * dims[3]:
        return "output tensor size disagrees with the dims"
    shift = p[_MUL_OUTPUT_SHIFT]
    problem = multiplier_problem(p[_MUL_OUTPUT_MULTIPLIER], shift)
    if problem is None and shift > 14:  # 255 * 255 << shift must stay below 2^30
        problem = f"output_shift {shift} lets products pass 2^30; it must be <= 14"
    return problem


def _rescaled(p, in_shapes, out_shape, counts):
    """SUB and ADD_BROADCAST: ADD's rules (rules._add) on the broadcast geometry."""
    problem = _clamp(p[_SUB_ACT_MIN], p[_SUB_ACT_MAX]) or _geometry(p, in_shapes, out_shape)
    if problem:
        return problem
    offset1, offset2, output_offset, left_shift = p[_SUB_INPUT1_OFFSET : _SUB_LEFT_SHIFT + 1]
    if not 0 <= left_shift <= 20:
        return f"left_shift {left_shift} is outside 0..20"
    if not (-127 <= offset1 <= 128 and -127 <= offset2 <= 128):
        return "input offsets must be minus an int8 zero point"
    if not -128 <= output_offset <= 127:
        return f"output_offset {output_offset} is outside -128..127"
    for k in range(3):
        shift = p[_SUB_INPUT1_SHIFT + 2 * k]
        problem = multiplier_problem(p[_SUB_INPUT1_MULTIPLIER + 2 * k], shift)
        if problem:
            return problem
        if shift > 0:
            return f"shift {shift} must be <= 0 (a right shift)"
    return None


def _maximum_minimum(p, in_shapes, out_shape, counts):
    return _geometry(p, in_shapes, out_shape)


def _prelu(p, in_shapes, out_shape, counts):
    problem = _geometry(p, in_shapes, out_shape)
    if problem:
        return problem
    for key in (_PRELU_INPUT_OFFSET, _PRELU_ALPHA_OFFSET):
        if not -127 <= p[key] <= 128:
            return "input offsets must be minus an int8 zero point"
    if not -128 <= p[_PRELU_OUTPUT_OFFSET] <= 127:
        return f"output_offset {p[_PRELU_OUTPUT_OFFSET]} is outside -128..127"
    # |x - zp| <= 255 and 255 * 255, shifted left, must stay below 2^30
    for at, most in ((_PRELU_IDENTITY_MULTIPLIER, 22), (_PRELU_ALPHA_MULTIPLIER, 14)):
        shift = p[at + 1]
        problem = multiplier_problem(p[at], shift)
        if problem is None and shift > most:
            problem = f"shift {shift} lets values pass 2^30; it must be <= {most}"
        if problem:
            return problem
    return None


_CHECKS = {
    "MUL": _mul,
    "SUB": _rescaled,
    "ADD_BROADCAST": _rescaled,
    "MAXIMUM": _maximum_minimum,
    "MINIMUM": _maximum_minimum,
    "PRELU": _prelu,
}


def check(name, params, in_shapes, out_shape, counts):
    return _CHECKS[name](params, in_shapes, out_shape, counts)
