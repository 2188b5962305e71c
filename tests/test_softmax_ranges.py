"""The ranges firmware/micronn/reciprocal.py relies on hold for every sum a SOFTMAX row can have.

GetReciprocal sees a = s * 2**clz(s) - 2**31 for a Q12.19 sum 2**19 <= s < 2**30, so a is a
multiple of 4 and h = a / 2 an even number below 2**30. For those, gemmlowp's Newton-Raphson
division keeps its estimate x in (0, 2**30) before the last step and in (0, 2**30] after it,
1 - half_denominator * x and the correction x * (1 - ...) far inside 31 bits. The test walks a
strided subset of all 2**29 such h (every one with MICRONN_EXHAUSTIVE=1, about four minutes).
"""

import os

import numpy as np

from micronn import gemmlowp
from micronn.fixedpoint import wrap_int32

LIMIT = 2**30
STRIDE = 2 if os.environ.get("MICRONN_EXHAUSTIVE") else 2**11
CHUNK = 2**22


def _newton_ranges(h, ranges):
    half_denominator = gemmlowp.rounding_half_sum(2 * h, gemmlowp.INT32_MAX)
    np.testing.assert_array_equal(half_denominator, LIMIT + h)
    x = wrap_int32(
        gemmlowp.FORTY_EIGHT_SEVENTEENTHS
        + gemmlowp.srdhm(half_denominator, gemmlowp.MINUS_THIRTY_TWO_SEVENTEENTHS)
    )
    for step in range(3):
        ranges.setdefault(f"x{step}", []).append((x.min(), x.max()))
        t = gemmlowp.srdhm(half_denominator, x)
        u = wrap_int32(gemmlowp.ONE_Q2 - t)
        w = gemmlowp.srdhm(x, u)
        for name, values in (("t", t), ("u", u), ("w", w)):
            ranges.setdefault(name, []).append((values.min(), values.max()))
        x = wrap_int32(x + gemmlowp.rescale(w, 4, 2))
    ranges.setdefault("x3", []).append((x.min(), x.max()))


def test_the_newton_division_stays_in_the_ranges_the_board_code_assumes():
    rng = np.random.default_rng(2048)
    ranges = {}
    for start in range(0, LIMIT, STRIDE * CHUNK):
        _newton_ranges(np.arange(start, min(start + STRIDE * CHUNK, LIMIT), STRIDE), ranges)
    edges = np.concatenate([np.arange(0, 4096, 2), LIMIT - np.arange(2, 4096, 2)])
    _newton_ranges(np.concatenate([edges, rng.integers(0, LIMIT // 2, 100_000) * 2]), ranges)
    low = {name: min(lo for lo, _ in pairs) for name, pairs in ranges.items()}
    high = {name: max(hi for _, hi in pairs) for name, pairs in ranges.items()}
    for name in ("x0", "x1", "x2"):
        assert 0 < low[name] and high[name] < LIMIT, name
    assert 0 < low["x3"] and high["x3"] == LIMIT  # reached by a power-of-two sum: saturates
    assert 0 <= low["t"] and high["t"] < LIMIT
    assert -LIMIT < low["u"] and high["u"] < LIMIT
    assert -(2**28) < low["w"] and high["w"] < 2**28  # Rescale<2> never saturates
