"""LOGISTIC and TANH with the viper backend: one table lookup per value, as python_lut."""

# ruff: noqa: F821 - ptr8, ptr16, ptr32 and uint are the viper emitter's own types

import micropython

from .python_lut import prepare  # noqa: F401 - the same plan: (size, table)


def run(plan, a, b, out):
    _lookup(a, out, plan[0], plan[1])


@micropython.viper
def _lookup(x: ptr8, out: ptr8, size: int, table: ptr8):
    """out[i] = table[x[i] & 0xFF]: ptr8 loads are the code's uint8 bit pattern already."""
    for i in range(size):
        out[i] = table[x[i]]
