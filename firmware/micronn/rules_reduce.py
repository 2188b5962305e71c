"""The rules of the reductions over any axes (family "reduce": REDUCE_MAX, MEAN_AXES, SUM), as
the host's checks (micronn.ops.reduce); rules.check imports this module for a model that uses
them. check() returns what is wrong, or None."""

from .model import size_of
from .rules import SMALL_INT_MAX, _int8_range
from .values import multiplier_problem

try:
    from micropython import const
except ImportError:  # CPython, in the tests
    const = int

# BEGIN GENERATED parameter indices (python -m micronn.device_tables)
_MEAN_AXES_INPUT_ZERO_POINT = const(8)
_MEAN_AXES_MULTIPLIER = const(10)
_MEAN_AXES_OUTPUT_ZERO_POINT = const(9)
_MEAN_AXES_SHIFT = const(11)
_REDUCE_MAX_DIM0 = const(0)
_REDUCE_MAX_REDUCE0 = const(4)
# END GENERATED

_MAX_DIM = const(0xFFFF)
_MAX_COUNT = const(0x3FFFFF)  # 2^22 - 1 values per output


def _geometry(p, in_shapes, out_shape):
    """Returns (problem, count): four dims, four 0/1 flags; the tensors hold the dims' and the
    kept dims' products."""
    total = kept = count = 1
    for k in range(4):
        dim, flag = p[_REDUCE_MAX_DIM0 + k], p[_REDUCE_MAX_REDUCE0 + k]
        if not 1 <= dim <= _MAX_DIM:
            return "dims must be in 1..65535", 0
        if flag != 0 and flag != 1:
            return "reduce flags must be 0 or 1", 0
        total *= dim
        if flag:
            count *= dim
        else:
            kept *= dim
    if size_of(in_shapes[0]) != total:
        return "the input tensor does not hold the dims' product", 0
    if size_of(out_shape) != kept:
        return "the output tensor does not hold the kept dims' product", 0
    if count > _MAX_COUNT:
        return "too many values per output", 0
    return None, count


def _max(p, in_shapes, out_shape, counts):
    return _geometry(p, in_shapes, out_shape)[0]


def _mean_or_sum(p, in_shapes, out_shape, counts, is_sum):
    problem, count = _geometry(p, in_shapes, out_shape)
    problem = problem or _int8_range(
        "input zero point", p[_MEAN_AXES_INPUT_ZERO_POINT],
        "output zero point", p[_MEAN_AXES_OUTPUT_ZERO_POINT],
    )  # fmt: skip
    if problem:
        return problem
    multiplier, shift = p[_MEAN_AXES_MULTIPLIER], p[_MEAN_AXES_SHIFT]
    if is_sum:
        problem = multiplier_problem(multiplier, shift)
    elif multiplier < 0:  # 1 / count is folded in: below 2^30 is fine (an int32: below 2^31)
        problem = f"multiplier {multiplier} is not in [0, 2^31)"
    elif not -31 <= shift <= 30:
        problem = f"shift {shift} is outside -31..30"
    if problem is None and count * 255 > SMALL_INT_MAX >> (shift if shift > 0 else 0):
        problem = "its sum can overflow 31-bit integers"
    return problem


def _mean(p, in_shapes, out_shape, counts):
    return _mean_or_sum(p, in_shapes, out_shape, counts, False)


def _sum(p, in_shapes, out_shape, counts):
    return _mean_or_sum(p, in_shapes, out_shape, counts, True)


_CHECKS = {"REDUCE_MAX": _max, "MEAN_AXES": _mean, "SUM": _sum}


def check(name, params, in_shapes, out_shape, counts):
    return _CHECKS[name](params, in_shapes, out_shape, counts)
