"""Scalar loop transcriptions of TFLM's int8 reference kernels, for cross-checking micronn.ops.

Written from tensorflow/lite/kernels/internal/reference/integer_ops/{conv,depthwise_conv,
pooling}.h and reference/reduce.h (QuantizedMeanOrSum), on the primitives of tflm_scalar_common:
plain Python ints, one output at a time, C's truncating division where C divides. Deliberately
independent of the vectorised numpy code under test.
"""

from tflm_scalar_common import c_div, clamp, mbqm, quantize_multiplier


def conv_multipliers(input_scale, weight_scales, output_scale, channels):
    """PopulateConvolutionQuantizationParams (float32 scales widened to double)."""
    pairs = []
    for c in range(channels):
        scale = weight_scales[c] if len(weight_scales) > 1 else weight_scales[0]
        pairs.append(quantize_multiplier(float(input_scale) * float(scale) / float(output_scale)))
    return pairs


def _requantize(acc, o, bias, pairs, g):
    """Output channel o's accumulator -> int8: bias, multiplier, zero point, activation clamp."""
    value = mbqm(acc + bias[o], *pairs[o]) + g["output_zero_point"]
    return clamp(value, g["act_min"], g["act_max"])


def _image(g, pixel):
    """[out_height][out_width] of pixel(oy, ox), a list of channel values."""
    return [[pixel(oy, ox) for ox in range(g["out_width"])] for oy in range(g["out_height"])]


def conv2d(x, w, bias, pairs, g):
    """x [H][W][C] ints, w [O][KH][KW][C], g: dict of geometry and zero points."""

    def pixel(oy, ox):
        values = []
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
            values.append(_requantize(acc, o, bias, pairs, g))
        return values

    return _image(g, pixel)


def depthwise_conv2d(x, w, bias, pairs, g):
    """x [H][W][C], w [KH][KW][C*M] (output channel c * M + m reads input channel c)."""
    multiplier = g["depth_multiplier"]

    def pixel(oy, ox):
        values = []
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
                values.append(_requantize(acc, o, bias, pairs, g))
        return values

    return _image(g, pixel)


def _window_taps(x, oy, ox, c, g):
    y0 = oy * g["stride_height"] - g["pad_top"]
    x0 = ox * g["stride_width"] - g["pad_left"]
    for fy in range(max(0, -y0), min(g["filter_height"], len(x) - y0)):
        for fx in range(max(0, -x0), min(g["filter_width"], len(x[0]) - x0)):
            yield x[y0 + fy][x0 + fx][c]


def max_pool(x, g):
    def pixel(oy, ox):
        taps = [[-128, *_window_taps(x, oy, ox, c, g)] for c in range(len(x[0][0]))]
        return [clamp(max(t), g["act_min"], g["act_max"]) for t in taps]

    return _image(g, pixel)


def average_pool(x, g):
    def pixel(oy, ox):
        values = []
        for c in range(len(x[0][0])):
            taps = list(_window_taps(x, oy, ox, c, g))
            acc, count = sum(taps), len(taps)
            if acc > 0:
                acc = c_div(acc + c_div(count, 2), count)
            else:
                acc = c_div(acc - c_div(count, 2), count)
            values.append(clamp(acc, g["act_min"], g["act_max"]))
        return values

    return _image(g, pixel)


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
        out.append(clamp(value, -128, 127))
    return out
