"""Vectorized, exact TFLite requantization of float accumulators with ulab (docs/ulab.md).

t = acc * scale + zero_point is rounded with ulab; an output is recomputed with fixedpoint.py's
integers only where t lies so near a half-integer that float error or TFLite's double rounding
could decide the result. `trust` holds, per output channel, how far from round(t) t may be.
"""

from ulab import numpy as np

from .fixedpoint import Requant
from .fixedpoint import requantize as requantize_exactly

CHUNK_LIMIT = 1 << 24  # float32 holds every integer of magnitude up to this
UNIT_ROUNDOFF = 2.0**-24  # float32's relative rounding error (float64 boards do better)
ROUNDING_SLACK = 2.0**-13  # > float error of t wherever the output does not saturate
WIDEST_MARGIN = 0.25  # wider margins would send too many outputs to the exact path
SUPPORTED = hasattr(np, "around") and hasattr(np, "clip") and hasattr(np, "nonzero")


def scale_of(multiplier, shift):
    """multiplier * 2**(shift - 31) within one rounding (0 where TFLite's result is 0)."""
    if shift < -30:
        return 0.0
    return float(multiplier) / (1 << (31 - shift))  # an exact power of two: exact division


def limits(bias, reach, additions, multipliers, shifts):
    """Per output channel, the largest |t - round(t)| that round(t) may be trusted with; -1.0
    where every result must be computed exactly.

    reach bounds |acc - bias| (sum of |products|); additions counts the float additions that
    build acc from exact partial sums (chunk and tap sums, the bias).
    - double rounding: TFLite rounds acc * multiplier / 2**31 to an integer, then divides by
      2**right rounding again; the result is the integer nearest to the exact t whenever t is
      more than 2**-(right + 1) from a half-integer (no such zone when right is 0);
    - float error: acc is exact while |bias| + reach <= 2**24, else off by at most
      (additions + 2) roundings of that bound; scale, product and zero point add a few
      roundings of |t|, covered by ROUNDING_SLACK (beyond |t| = 386 the output saturates).
    """
    step = 1 if len(multipliers) > 1 else 0
    values = []
    for o in range(len(bias)):
        c = o * step
        right = -shifts[c] if shifts[c] < 0 else 0
        if right > 30:
            values.append(0.5)  # the output is exactly the zero point: scale 0
            continue
        worst = abs(bias[o]) + reach
        acc_error = 0.0 if worst <= CHUNK_LIMIT else (additions + 2) * UNIT_ROUNDOFF * worst
        zone = 0.5 ** (right + 1) if right else 0.0
        margin = zone + acc_error * scale_of(multipliers[c], shifts[c]) + ROUNDING_SLACK
        values.append(0.5 - margin if margin <= WIDEST_MARGIN else -1.0)
    return values


class Requantizer:
    """One layer's requantization, prepared at load: the integer one (store) and, when some
    output can take it, the vectorized one (`vectorized`; see requantize)."""

    def __init__(self, bias, reach, additions, multipliers, shifts, zero_point, act_min, act_max):
        self.bias = bias
        self.integers = Requant(multipliers, shifts)
        self.step = 1 if len(multipliers) > 1 else 0
        self.zero_point = zero_point
        self.act_min = act_min
        self.act_max = act_max
        trust = limits(bias, reach, additions, multipliers, shifts) if SUPPORTED else [-1.0]
        self.vectorized = max(trust) > 0
        if self.vectorized:
            count = len(bias)
            self.float_bias = np.array([float(v) for v in bias])
            step = self.step
            self.scale = np.array(
                [scale_of(multipliers[o * step], shifts[o * step]) for o in range(count)]
            )
            self.float_zero_point = float(zero_point)
            self.trust = np.array(trust)
        # acc (bias included) holds the exact integers: every partial sum stays within 2**24
        self.sums_exact = max(abs(v) for v in bias) + reach <= CHUNK_LIMIT

    def store(self, out, at, channel, total):
        """out[at] = the clamped integer requantization of the accumulator `total`."""
        v = requantize_exactly(total, self.integers, channel * self.step)
        if v < self.act_min - self.zero_point:  # compared before adding the zero point, so
            out[at] = self.act_min  # that a large v never leaves the small ints
        elif v > self.act_max - self.zero_point:
            out[at] = self.act_max
        else:
            out[at] = v + self.zero_point


def requantize(acc, q, out):
    """acc (+= bias, in place) requantized with the Requantizer q, clamped and stored into the
    int8 ndarray out. Returns None, or the nonzero() indices of the outputs to recompute
    exactly (q.store)."""
    acc += q.float_bias
    t = acc * q.scale
    t += q.float_zero_point
    rounded = np.around(t)
    t -= rounded
    out[:] = np.clip(rounded, q.act_min, q.act_max)
    t = abs(t)
    t -= q.trust
    if np.max(t) > 0:
        return np.nonzero(t > 0)
    return None
