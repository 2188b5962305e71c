"""The rules of the element-wise operators with broadcasting (family "broadcast": MUL), as the
host's checks (micronn.ops.mul, ops/broadcast.py); rules.check imports this module for a model
that uses them. check() returns what is wrong, or None."""

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


_CHECKS = {"MUL": _mul}


def check(name, params, in_shapes, out_shape, counts):
    return _CHECKS[name](params, in_shapes, out_shape, counts)
