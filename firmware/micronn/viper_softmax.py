"""SOFTMAX with the viper backend: same integers as python_softmax (TFLM's int8 kernel).

The plan is python_softmax's (the exp table as base-2**15 limbs) with the Q12.19 terms as a
table (python_softmax computes each as it sums: a viper loop reads them at once). Per row,
viper finds the maximum and sums the terms (at most depth * 2**19 < 2**30); the reciprocal is
reciprocal.py's, once per row in plain small ints; viper then writes every output from limb
products, each column sum below 2**18 and the result in units of 2**45 below 2**17, as in
python_softmax.
"""

# ruff: noqa: F821 - ptr8, ptr16, ptr32 and uint are the viper emitter's own types

from array import array

import micropython

from . import python_softmax
from .reciprocal import SATURATED, reciprocal_half, sum_bits

_LIMB = 0x7FFF


def prepare(op, params, tensors):
    """python_softmax's plan, its terms made a table: (rows, depth, terms, e2, e1, e0)."""
    limbs = python_softmax.prepare(op, params, tensors)
    count = len(limbs[2])
    terms = array("i", bytes(4 * count))
    for i in range(count):
        terms[i] = python_softmax.term(limbs, i)
    return limbs[:2] + (terms,) + limbs[2:]


def run(plan, a, b, out):
    rows, depth, terms, e2, e1, e0 = plan
    start = 0
    for _ in range(rows):
        top = _row_max(a, start, depth)
        total = _row_total(a, start, depth, top, terms)
        bits = sum_bits(total)
        # GetReciprocal: a = total * 2**(32 - bits) - 2**31 = 2h, exponent = bits + 3
        half = reciprocal_half((total - (1 << (bits - 1))) << (31 - bits))
        if half == SATURATED:
            s2 = 1
            s1 = _LIMB
            s0 = _LIMB
        else:  # S = 2 * half
            s2 = half >> 29
            s1 = (half >> 14) & _LIMB
            s0 = (half & 0x3FFF) << 1
        # python_softmax: out = ((Y + 2**(exponent - 15)) >> (exponent - 14)) - 128
        _row_outputs(a, out, start, depth, top, e2, e1, e0, s2, s1, s0, bits - 11, bits - 12)
        start += depth


@micropython.viper
def _row_max(x: ptr8, start: int, depth: int) -> int:
    top = -128
    for c in range(start, start + depth):
        code = (x[c] ^ 0x80) - 0x80
        if code > top:
            top = code
    return top


@micropython.viper
def _row_total(x: ptr8, start: int, depth: int, top: int, terms: ptr32) -> int:
    """The sum of RoundingDivideByPOT(exp[top - x[c]], 12), each term at most 2**19."""
    total = 0
    for c in range(start, start + depth):
        total += terms[top - ((x[c] ^ 0x80) - 0x80)]
    return total


@micropython.viper
def _row_outputs(
    x: ptr8,
    out: ptr8,
    start: int,
    depth: int,
    top: int,
    e2: ptr8,
    e1: ptr16,
    e0: ptr16,
    s2: int,
    s1: int,
    s0: int,
    down: int,
    up: int,
):
    """out[c] = clamp(((Y + 2**up) >> down) - 128), Y = floor((S * exp + 2**30) / 2**45) summed
    in base-2**15 columns (python_softmax.run)."""
    rounding = 1 << up
    for c in range(start, start + depth):
        i = top - ((x[c] ^ 0x80) - 0x80)
        x2 = int(e2[i])
        x1 = int(e1[i])
        x0 = int(e0[i])
        carry = (s0 * x0) >> 15
        p = s1 * x0
        r = s0 * x1
        low = (p & 0x7FFF) + (r & 0x7FFF) + carry
        carry = (p >> 15) + (r >> 15) + (low >> 15)
        p = s1 * x1
        low = (p & 0x7FFF) + s2 * x0 + s0 * x2 + 1 + carry
        high = (p >> 15) + (low >> 15) + s2 * x1 + s1 * x2 + ((s2 * x2) << 15)
        value = ((high + rounding) >> down) - 128
        out[c] = 127 if value > 127 else value
