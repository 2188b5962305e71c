"""SOFTMAX with the ulab backend, bit-exact with python_softmax.

Per row, with i = max(row) - row (0..255) gathered by np.take:
- total = sum of terms[i] (each <= 2**19): one float dot, exact while depth * 2**19 <= 2**24;
- S, the reciprocal of total, and bits, its bit length: reciprocal.py's integers, once per row;
- python_softmax's out + 128 = floor((S * exp[i] + 2**30 + 2**(bits + 33)) / 2**(bits + 34))
  (its two roundings fold into one floor) = floor(r + 1/2 + 2**-(bits + 4)) for
  r = S * exp[i] / 2**(bits + 34).
ulab computes floor(r + 1/2) in float. r < 256 is within 2**-14 of the float value (a few
float32 roundings), so wherever r + 1/2 lies more than MARGIN from an integer the two floors
agree; a row with an element nearer than that is recomputed with python_softmax. Rows deeper
than MAX_DEPTH, and ulab without np.take, use python_softmax.
"""

from ulab import numpy as np

from . import python_softmax
from .reciprocal import SATURATED, reciprocal_half, sum_bits

MAX_DEPTH = 32  # depth * 2**19 <= 2**24: the sum of terms stays an exact float32 integer
MARGIN = 2.0**-13  # > float error of r (2**-14) + 2**-(bits + 4) (2**-24)
SUPPORTED = hasattr(np, "take") and hasattr(np, "floor") and hasattr(np, "clip")  # take: 6.6
SATURATED_S = 2147483647.0  # 2**31 - 1: float32 rounds it, within one rounding


def _powers():
    """2**-(34 + bits) for bits 0..30, halving from 1 so that every value is exact."""
    values = []
    p = 1.0
    for _ in range(34):
        p *= 0.5
    for _ in range(31):
        values.append(p)
        p *= 0.5
    return values


class Plan:
    def __init__(self, params, tensors, exact):
        self.rows, self.depth = params[0], params[1]
        self.exact = exact  # python_softmax's plan
        self.row_plan = (1,) + exact[1:]  # the same, for one row
        self.terms = np.array([float(python_softmax.term(exact, i)) for i in range(len(exact[2]))])
        self.exps = np.array([float(v) for v in tensors[0]])
        self.ones = np.ones(self.depth)
        self.codes = np.zeros(self.depth, dtype=np.int16)
        self.powers = _powers()
        self.input = None  # the input buffer last seen, and its row views
        self.inputs = None
        self.output = None  # the output buffer last seen, and its row views
        self.outputs = None

    def views(self, a, out):
        depth, rows = self.depth, range(self.rows)
        if self.input is not a:
            x = np.frombuffer(a, dtype=np.int8)
            self.input = a
            self.inputs = tuple((x[r * depth : (r + 1) * depth], a[r * depth :]) for r in rows)
        if self.output is not out:
            y = np.frombuffer(out, dtype=np.int8)
            self.output = out
            self.outputs = tuple((y[r * depth : (r + 1) * depth], out[r * depth :]) for r in rows)
        return self.inputs, self.outputs


def prepare(op, params, tensors):
    exact = python_softmax.prepare(op, params, tensors)
    if not SUPPORTED or params[1] > MAX_DEPTH:
        return ("python_softmax", exact)
    return Plan(params, tensors, exact)


def run(plan, a, b, out):
    if type(plan) is tuple:
        python_softmax.run(plan[1], a, b, out)
        return
    inputs, outputs = plan.views(a, out)
    codes = plan.codes
    for r in range(plan.rows):
        row, row_bytes = inputs[r]
        codes[:] = row
        index = int(np.max(row)) - codes  # 0..255, int16
        total = int(np.dot(np.take(plan.terms, index), plan.ones))
        bits = sum_bits(total)
        half = reciprocal_half((total - (1 << (bits - 1))) << (31 - bits))
        s = SATURATED_S if half == SATURATED else 2.0 * half
        t = np.take(plan.exps, index)
        t *= s * plan.powers[bits]
        t += 0.5
        whole = np.floor(t)
        t -= whole
        t -= 0.5
        target, target_bytes = outputs[r]
        if np.max(abs(t)) > 0.5 - MARGIN:  # floor decided by less than the error: integers
            python_softmax.run(plan.row_plan, row_bytes, None, target_bytes)
        else:
            target[:] = np.clip(whole - 128.0, -128.0, 127.0)
