"""Element-wise operators of two int8 tensors with broadcasting (MUL), bit-exact with TFLM's
reference kernels. The output is walked as 4 dims; each input advances by its own stride per
dim (0 where it is broadcast). |(a - zp1) * (b - zp2)| <= 255 * 255 and the container allows a
left shift of at most 14, so every value stays below 2**30.
"""

from .fixedpoint import Requant, requantize


def prepare(op, params, tensors):
    if op.name != "MUL":
        raise ValueError(f"python_broadcast does not run {op.name}; update micronn")
    dims = params[0:4]
    strides1 = params[4:8]
    strides2 = params[8:12]
    zp1, zp2, zp_out, multiplier, shift, act_min, act_max = params[12:19]
    return (
        tuple(dims),
        tuple(strides1),
        tuple(strides2),
        -zp1,
        -zp2,
        Requant((multiplier,), (shift,)),
        zp_out,
        act_min,
        act_max,
    )


def run(plan, a, b, out):
    dims, strides1, strides2, offset1, offset2, rq, zp, act_min, act_max = plan
    d0, d1, d2, d3 = dims
    s10, s11, s12, s13 = strides1
    s20, s21, s22, s23 = strides2
    i = 0
    for i0 in range(d0):
        for i1 in range(d1):
            for i2 in range(d2):
                j1 = i0 * s10 + i1 * s11 + i2 * s12
                j2 = i0 * s20 + i1 * s21 + i2 * s22
                for _ in range(d3):
                    v = requantize((a[j1] + offset1) * (b[j2] + offset2), rq, 0) + zp
                    out[i] = act_min if v < act_min else (act_max if v > act_max else v)
                    i += 1
                    j1 += s13
                    j2 += s23
