"""CONV_2D and DEPTHWISE_CONV_2D in plain MicroPython integers (TFLM's int8 reference kernels).

acc = bias[o] + sum over in-image taps of w * (x - input_zero_point), then requantize, add the
output zero point and clamp. Each product is at most 127 * 255 and every partial sum stays
inside the container's bound (|bias| + taps * 255 * wmax) * 2**left < 2**30, so all values are
small ints. int4 / int2 weights are unpacked one output channel at a time into a scratch row.
"""

from array import array

from .fixedpoint import Requant, requantize
from .window import shared_tap_ranges


def _unpack(packed, bits, start, step, count, row):
    """Elements start, start + step, ... of a low-bits-first int4 / int2 stream into row."""
    k = start
    if bits == 4:
        for j in range(count):
            byte = packed[k >> 1]
            if k & 1:
                byte >>= 4
            row[j] = ((byte & 0xF) ^ 8) - 8
            k += step
    else:
        for j in range(count):
            row[j] = (((packed[k >> 2] >> ((k & 3) << 1)) & 3) ^ 2) - 2
            k += step


# prepare and run only index the bias and (depthwise) the weights: views on ROMFS may do
READ_ONLY = 3


def prepare(op, params, tensors):
    """Load time: tap tables, multiplier limbs, clamp thresholds and a scratch row."""
    in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, s_h, s_w, d_h, d_w, pad_t, pad_l = params[:14]
    input_zp, output_zp, act_min, act_max = params[-4:]
    depthwise = op.name == "DEPTHWISE_CONV_2D"
    weights, bias, multipliers, shifts = tensors
    bits = op.weight_bits
    taps = k_h * k_w if depthwise else k_h * k_w * in_c
    ky_first, ky_end = shared_tap_ranges(out_h, s_h, pad_t, k_h, d_h, in_h)
    kx_first, kx_end = shared_tap_ranges(out_w, s_w, pad_l, k_w, d_w, in_w)
    return (
        depthwise,
        (in_w, in_c, out_h, out_w, out_c, k_w, s_h, s_w, d_h, d_w, pad_t, pad_l),
        (ky_first, ky_end, kx_first, kx_end),
        weights,
        bits,
        array("b", bytes(taps)) if bits != 8 else None,
        taps,
        params[14] if depthwise else 1,  # depth multiplier
        input_zp,
        bias,
        Requant(multipliers, shifts, in_place=True),
        1 if len(multipliers) > 1 else 0,
        (output_zp, act_min, act_max, act_min - output_zp, act_max - output_zp),
    )


def run(plan, a, b, out):
    run_rows(plan, a, out, plan[3], 0, plan[1][4])


def run_rows(plan, a, out, weights, first, count):
    """Output channels first .. first+count-1 only. CONV_2D: weights[0] is the first weight of
    channel `first` (the weight placement API: a streamed chunk of the file, starting on a
    byte boundary). DEPTHWISE_CONV_2D: weights is always the whole tensor."""
    depthwise, shape, tables, _, bits, row, taps, multiplier, zp, bias, rq, step, clamp = plan
    in_w, in_c, out_h, out_w, out_c, k_w, s_h, s_w, d_h, d_w, pad_t, pad_l = shape
    ky_first, ky_end, kx_first, kx_end = tables
    output_zp, act_min, act_max, low, high = clamp
    for o in range(first, first + count):
        # w[base + (ky * k_w + kx) * w_step + i] is the weight of tap (ky, kx), input i
        if depthwise:
            channel = o // multiplier
            w_step = out_c
            base = o
            if row is not None:
                _unpack(weights, bits, o, out_c, taps, row)
                w_step = 1
                base = 0
        else:
            w_step = in_c
            base = (o - first) * taps
            if row is not None:
                _unpack(weights, bits, base, 1, taps, row)
                base = 0
        w = weights if row is None else row
        start = bias[o]
        c = o * step
        at = o
        for oy in range(out_h):
            y0 = oy * s_h - pad_t
            ky0 = ky_first[oy]
            ky1 = ky_end[oy]
            for ox in range(out_w):
                x0 = ox * s_w - pad_l
                kx0 = kx_first[ox]
                kx1 = kx_end[ox]
                acc = start
                for ky in range(ky0, ky1):
                    line = (y0 + ky * d_h) * in_w
                    for kx in range(kx0, kx1):
                        pixel = (line + x0 + kx * d_w) * in_c
                        tap = base + (ky * k_w + kx) * w_step
                        if depthwise:
                            acc += w[tap] * (a[pixel + channel] - zp)
                        else:
                            for i in range(in_c):
                                acc += w[tap + i] * (a[pixel + i] - zp)
                v = requantize(acc, rq, c)
                if v < low:
                    out[at] = act_min
                elif v > high:
                    out[at] = act_max
                else:
                    out[at] = v + output_zp
                at += out_c
