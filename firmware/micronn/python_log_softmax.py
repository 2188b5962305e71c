"""LOG_SOFTMAX over the last axis in 31-bit small ints, bit-exact with TFLM's int8 reference
kernel (docs/format.md, "21 LOG_SOFTMAX").

The container's tables are indexed by i = max(row) - q: `exp` (Q0.31, as SOFTMAX's), `diff`
(the difference rescaled to Q5.26, at least -2**30) and `limit` (the largest logarithm for which
the difference is written). Per row: the Q12.19 sum of RoundingDivideByPOT(exp, 12) (at most
depth * 2**19 < 2**30), its logarithm L (logarithm.py, Q5.26, 0 <= L < 2**29), then per value
    out = -128                                             if L > limit[i]
          clamp(RoundingDivideByPOT(diff[i] - L, 22) + 127) otherwise,
where diff[i] - L <= -(254.5 * 2**22) gives -128 and is not formed (it may pass -2**30).
"""

from array import array

from .fixedpoint import rounding_divide_by_pot
from .logarithm import log_q5

MAX_DEPTH = 2047
TABLE_SIZE = 256
_LOWEST = 1067450368  # 254.5 * 2**22: diff - L at or below -_LOWEST gives -128
_MASK = 0x3FFFFF  # 2**22 - 1
_SMALL_LIMIT = 0x40000000  # 2**30 (load time only: not a small int on a board)


def prepare(op, params, tensors):
    """Load time: the Q12.19 terms of the exp table (its entries may be long ints here)."""
    rows, depth = params[0], params[1]
    exps, diff, limit = tensors
    if not 1 <= depth <= MAX_DEPTH or not len(exps) == len(diff) == len(limit) == TABLE_SIZE:
        raise ValueError(
            f"LOG_SOFTMAX needs depth 1..{MAX_DEPTH} and {TABLE_SIZE}-entry tables; re-convert "
            "the model with `micronn convert`"
        )
    terms = array("i", bytes(4 * TABLE_SIZE))
    for i in range(TABLE_SIZE):
        if exps[i] < 0:
            raise ValueError("LOG_SOFTMAX exp table entries must be >= 0; re-convert the model")
        terms[i] = (exps[i] + 2048) >> 12  # RoundingDivideByPOT(exp, 12) for exp >= 0
        # predict reads diff and limit as they are: they must be small ints
        if not -_SMALL_LIMIT <= diff[i] <= 0 or not -_SMALL_LIMIT <= limit[i] < _SMALL_LIMIT:
            raise ValueError("LOG_SOFTMAX diff / limit tables out of range; re-convert the model")
    return (rows, depth, terms, diff, limit)


def run(plan, a, b, out):
    rows, depth, terms, diff, limit = plan
    start = 0
    for _ in range(rows):
        end = start + depth
        top = a[start]
        for c in range(start + 1, end):
            if a[c] > top:
                top = a[c]
        total = 0
        for c in range(start, end):
            total += terms[top - a[c]]
        log_value = log_q5(total)
        lowest = log_value - _LOWEST
        for c in range(start, end):
            i = top - a[c]
            d = diff[i]
            if log_value > limit[i] or d <= lowest:
                out[c] = -128
            else:
                value = rounding_divide_by_pot(d - log_value, 22, _MASK) + 127
                out[c] = 127 if value > 127 else value
        start = end
