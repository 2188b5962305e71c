"""Scalar loop transcriptions of TFLM's int8 reference kernels, for cross-checking micronn.ops.

Written from tensorflow/lite/kernels/internal/reference/integer_ops/{conv,depthwise_conv,
pooling}.h, reference/reduce.h (QuantizedMeanOrSum), quantization_util.cc (QuantizeMultiplier)
and common.h (MultiplyByQuantizedMultiplier with gemmlowp's double rounding): plain Python ints,
one output at a time, C's truncating division where C divides. Deliberately independent of the
vectorised numpy code under test.
"""

import math

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def quantize_multiplier(real: float):
    if real == 0.0:
        return 0, 0
    fraction, shift = math.frexp(real)
    q = math.floor(fraction * 2**31 + 0.5)  # std::round of a positive double; exact here
    if q == 2**31:
        q //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q, shift


def c_div(a: int, b: int) -> int:
    """C integer division: truncates toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def srdhm(a: int, b: int) -> int:
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return c_div(ab + nudge, 1 << 31)


def rounding_divide_by_pot(x: int, exponent: int) -> int:
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def wrap32(x: int) -> int:
    return ((x + 2**31) & 0xFFFFFFFF) - 2**31


def mbqm(x: int, multiplier: int, shift: int) -> int:
    left = shift if shift > 0 else 0
    right = 0 if shift > 0 else -shift
    return rounding_divide_by_pot(srdhm(wrap32(x * (1 << left)), multiplier), right)


def conv_multipliers(input_scale, weight_scales, output_scale, channels):
    """PopulateConvolutionQuantizationParams (float32 scales widened to double)."""
    pairs = []
    for c in range(channels):
        scale = weight_scales[c] if len(weight_scales) > 1 else weight_scales[0]
        pairs.append(quantize_multiplier(float(input_scale) * float(scale) / float(output_scale)))
    return pairs


def _clamp(v, low, high):
    return max(low, min(high, v))


def conv2d(x, w, bias, pairs, g):
    """x [H][W][C] ints, w [O][KH][KW][C], g: dict of geometry and zero points."""
    out = []
    for oy in range(g["out_height"]):
        row = []
        for ox in range(g["out_width"]):
            pixel = []
            for o in range(len(w)):
                acc = 0
                for ky in range(len(w[0])):
                    iy = oy * g["stride_height"] - g["pad_top"] + g["dilation_height"] * ky
                    for kx in range(len(w[0][0])):
                        ix = ox * g["stride_width"] - g["pad_left"] + g["dilation_width"] * kx
                        if not (0 <= ix < len(x[0]) and 0 <= iy < len(x)):
                            continue
                        for i in range(len(x[0][0])):
                            acc += w[o][ky][kx][i] * (x[iy][ix][i] - g["input_zero_point"])
                acc += bias[o]
                acc = mbqm(acc, *pairs[o]) + g["output_zero_point"]
                pixel.append(_clamp(acc, g["act_min"], g["act_max"]))
            row.append(pixel)
        out.append(row)
    return out


def depthwise_conv2d(x, w, bias, pairs, g):
    """x [H][W][C], w [KH][KW][C*M] (output channel c * M + m reads input channel c)."""
    multiplier = g["depth_multiplier"]
    out = []
    for oy in range(g["out_height"]):
        row = []
        for ox in range(g["out_width"]):
            pixel = []
            for c in range(len(x[0][0])):
                for m in range(multiplier):
                    o = m + c * multiplier
                    acc = 0
                    for ky in range(len(w)):
                        for kx in range(len(w[0])):
                            ix = ox * g["stride_width"] - g["pad_left"] + g["dilation_width"] * kx
                            iy = oy * g["stride_height"] - g["pad_top"] + g["dilation_height"] * ky
                            if 0 <= ix < len(x[0]) and 0 <= iy < len(x):
                                acc += w[ky][kx][o] * (x[iy][ix][c] - g["input_zero_point"])
                    acc += bias[o]
                    acc = mbqm(acc, *pairs[o]) + g["output_zero_point"]
                    pixel.append(_clamp(acc, g["act_min"], g["act_max"]))
            row.append(pixel)
        out.append(row)
    return out


def _window_taps(x, oy, ox, c, g):
    y0 = oy * g["stride_height"] - g["pad_top"]
    x0 = ox * g["stride_width"] - g["pad_left"]
    for fy in range(max(0, -y0), min(g["filter_height"], len(x) - y0)):
        for fx in range(max(0, -x0), min(g["filter_width"], len(x[0]) - x0)):
            yield x[y0 + fy][x0 + fx][c]


def max_pool(x, g):
    return [
        [
            [
                _clamp(max([-128, *_window_taps(x, oy, ox, c, g)]), g["act_min"], g["act_max"])
                for c in range(len(x[0][0]))
            ]
            for ox in range(g["out_width"])
        ]
        for oy in range(g["out_height"])
    ]


def average_pool(x, g):
    out = []
    for oy in range(g["out_height"]):
        row = []
        for ox in range(g["out_width"]):
            pixel = []
            for c in range(len(x[0][0])):
                taps = list(_window_taps(x, oy, ox, c, g))
                acc, count = sum(taps), len(taps)
                if acc > 0:
                    acc = c_div(acc + c_div(count, 2), count)
                else:
                    acc = c_div(acc - c_div(count, 2), count)
                pixel.append(_clamp(acc, g["act_min"], g["act_max"]))
            row.append(pixel)
        out.append(row)
    return out


def mean(x, input_zero_point, input_scale, output_scale, output_zero_point):
    """MEAN over H and W of x [H][W][C] from the float scales (reduce_common.cc + reduce.h)."""
    multiplier, shift = quantize_multiplier(float(input_scale) / float(output_scale))
    count = len(x) * len(x[0])
    k = min(63 - (64 - count.bit_length()), 32, 31 + shift)  # 63 - CountLeadingZeros(count)
    multiplier = c_div(multiplier << k, count)
    shift -= k
    out = []
    for c in range(len(x[0][0])):
        total = sum(x[y][w][c] for y in range(len(x)) for w in range(len(x[0])))
        value = mbqm(total - input_zero_point * count, multiplier, shift) + output_zero_point
        out.append(_clamp(value, -128, 127))
    return out
