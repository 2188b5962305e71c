"""REDUCE_MAX with the viper backend (the integers of python_reduce: the largest code of each
output's reduced values); MEAN_AXES and SUM run python_reduce's loop, whose requantization
needs the limbs of fixedpoint.Requant.
"""

# ruff: noqa: F821 - ptr8, ptr32 are the viper emitter's own types

from array import array

import micropython

from . import python_reduce


def prepare(op, params, tensors):
    plan = python_reduce.prepare(op, params, tensors)
    if plan[0] != python_reduce.MAX:
        return plan
    _, kept, reduced, _, _, _ = plan
    geometry = array("i", [kept[0][0], kept[0][1], kept[1][0], kept[1][1]])
    geometry.extend(array("i", [reduced[0][0], reduced[0][1], reduced[1][0], reduced[1][1]]))
    return (python_reduce.MAX, geometry)


def run(plan, a, b, out):
    if plan[0] == python_reduce.MAX:
        _max(a, out, plan[1])
    else:
        python_reduce.run(plan, a, b, out)


@micropython.viper
def _max(a: ptr8, out: ptr8, g: ptr32):
    """g: two kept (extent, stride) groups, then two reduced ones (python_reduce._groups)."""
    at = 0
    for i0 in range(g[0]):
        for i1 in range(g[2]):
            base = i0 * g[1] + i1 * g[3]
            best = -128
            for j0 in range(g[4]):
                p = base + j0 * g[5]
                for _ in range(g[6]):
                    v = (a[p] ^ 0x80) - 0x80
                    if v > best:
                        best = v
                    p += g[7]
            out[at] = best
            at += 1
