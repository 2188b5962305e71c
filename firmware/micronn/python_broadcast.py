"""Element-wise operators of two int8 tensors with broadcasting (MUL, SUB, ADD_BROADCAST,
MAXIMUM, MINIMUM, PRELU), bit-exact with TFLM's reference kernels. The output is walked as 4 dims;
each input advances by its own stride per dim (0 where it is broadcast). Every record starts
with that geometry: 4 output dims, 4 strides of input 1, 4 of input 2.

31-bit bounds (the container rules): MUL |(a - zp1) * (b - zp2)| <= 255 * 255 with a left shift
of at most 14; SUB / ADD_BROADCAST |(x + offset) << 20| < 2**28 and multipliers below one;
PRELU |x - zp| << 22 and 255 * 255 << 14; MAXIMUM / MINIMUM compare codes.
"""

from .fixedpoint import Requant, requantize


def prepare(op, params, tensors):
    name = op.name
    geometry = (tuple(params[0:4]), tuple(params[4:8]), tuple(params[8:12]))
    p = params[12:]
    if name == "MUL":
        zp1, zp2, zp_out, multiplier, shift, act_min, act_max = p
        rq = Requant((multiplier,), (shift,))
        return (_mul, geometry, (-zp1, -zp2, rq, zp_out, act_min, act_max))
    if name == "SUB" or name == "ADD_BROADCAST":
        offset1, offset2, output_offset, left_shift = p[0:4]
        multipliers = (p[4], p[6], p[8])
        shifts = (p[5], p[7], p[9])
        for shift in shifts:
            if shift > 0:
                raise ValueError(name + " shifts must be <= 0; re-convert the model")
        act_min, act_max = p[10], p[11]
        sign = -1 if name == "SUB" else 1
        rq = Requant(multipliers, shifts)  # channels 0, 1: the inputs; 2: the output
        plan = (offset1, offset2, left_shift, sign, rq, output_offset, act_min, act_max)
        return (_rescaled, geometry, plan)
    if name == "MAXIMUM":
        return (_maximum, geometry, None)
    if name == "MINIMUM":
        return (_minimum, geometry, None)
    if name == "PRELU":
        input_offset, alpha_offset, output_offset = p[0:3]
        rq = Requant((p[3], p[5]), (p[4], p[6]))  # channel 0: identity; 1: alpha
        return (_prelu, geometry, (input_offset, alpha_offset, rq, output_offset))
    raise ValueError("python_broadcast does not run " + name + "; update micronn")


def run(plan, a, b, out):
    kernel, geometry, args = plan
    kernel(geometry, args, a, b, out)


def _mul(geometry, args, a, b, out):
    offset1, offset2, rq, zp, act_min, act_max = args
    (d0, d1, d2, d3), (s10, s11, s12, s13), (s20, s21, s22, s23) = geometry
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


def _rescaled(geometry, args, a, b, out):
    offset1, offset2, left_shift, sign, rq, zp, act_min, act_max = args
    (d0, d1, d2, d3), (s10, s11, s12, s13), (s20, s21, s22, s23) = geometry
    i = 0
    for i0 in range(d0):
        for i1 in range(d1):
            for i2 in range(d2):
                j1 = i0 * s10 + i1 * s11 + i2 * s12
                j2 = i0 * s20 + i1 * s21 + i2 * s22
                for _ in range(d3):
                    x = requantize((a[j1] + offset1) << left_shift, rq, 0)
                    y = requantize((b[j2] + offset2) << left_shift, rq, 1)
                    v = requantize(x + y if sign > 0 else x - y, rq, 2) + zp
                    out[i] = act_min if v < act_min else (act_max if v > act_max else v)
                    i += 1
                    j1 += s13
                    j2 += s23


def _maximum(geometry, args, a, b, out):
    (d0, d1, d2, d3), (s10, s11, s12, s13), (s20, s21, s22, s23) = geometry
    i = 0
    for i0 in range(d0):
        for i1 in range(d1):
            for i2 in range(d2):
                j1 = i0 * s10 + i1 * s11 + i2 * s12
                j2 = i0 * s20 + i1 * s21 + i2 * s22
                for _ in range(d3):
                    x = a[j1]
                    y = b[j2]
                    out[i] = x if x > y else y
                    i += 1
                    j1 += s13
                    j2 += s23


def _minimum(geometry, args, a, b, out):
    (d0, d1, d2, d3), (s10, s11, s12, s13), (s20, s21, s22, s23) = geometry
    i = 0
    for i0 in range(d0):
        for i1 in range(d1):
            for i2 in range(d2):
                j1 = i0 * s10 + i1 * s11 + i2 * s12
                j2 = i0 * s20 + i1 * s21 + i2 * s22
                for _ in range(d3):
                    x = a[j1]
                    y = b[j2]
                    out[i] = x if x < y else y
                    i += 1
                    j1 += s13
                    j2 += s23


def _prelu(geometry, args, a, b, out):
    input_offset, alpha_offset, rq, zp = args
    (d0, d1, d2, d3), (s10, s11, s12, s13), (s20, s21, s22, s23) = geometry
    i = 0
    for i0 in range(d0):
        for i1 in range(d1):
            for i2 in range(d2):
                j1 = i0 * s10 + i1 * s11 + i2 * s12
                j2 = i0 * s20 + i1 * s21 + i2 * s22
                for _ in range(d3):
                    v = a[j1] + input_offset
                    if v >= 0:
                        v = requantize(v, rq, 0) + zp
                    else:
                        v = requantize(v * (b[j2] + alpha_offset), rq, 1) + zp
                    out[i] = -128 if v < -128 else (127 if v > 127 else v)
                    i += 1
                    j1 += s13
                    j2 += s23
