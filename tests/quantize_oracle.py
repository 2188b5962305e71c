"""Scalar oracle for TensorFlow's QuantizeV2 and Dequantize: one element at a time.

Written from the kernel formulas (quantization-semantics.md sections 1-3) with no numpy
arithmetic, so it shares nothing with micronn.quantize but the formulas. Each float32 operation
is done on Python floats (a double result of one +, -, *, / of floats rounds to the same
float32) and rounded to float32 through struct; denormal results become signed zeros (FTZ).
Casts follow section 1.6: NaN and out-of-range values take the x86 conversions' results.
"""

import math
import struct

FLT_MIN = 2.0**-126
FLT_MAX = struct.unpack("<f", bytes.fromhex("ffff7f7f"))[0]
LIMITS = {
    "qint8": (-128, 127),
    "quint8": (0, 255),
    "qint16": (-32768, 32767),
    "quint16": (0, 65535),
    "qint32": (-(2**31), 2**31 - 1),
}
BITS = {"qint8": 8, "quint8": 8, "qint16": 16, "quint16": 16, "qint32": 32}


def f32(value):
    """Round to float32 (returned as a Python float), flushing denormals to zero."""
    value = float(value)
    if math.isnan(value) or math.isinf(value):
        return value
    try:
        rounded = struct.unpack("<f", struct.pack("<f", value))[0]
    except OverflowError:
        return math.copysign(math.inf, value)
    return math.copysign(0.0, rounded) if abs(rounded) < FLT_MIN else rounded


def divide(a, b):
    """IEEE division on Python floats (Python raises on a zero divisor)."""
    if b != 0 or math.isnan(b):
        return a / b
    if a == 0 or math.isnan(a):
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def add(a, b):
    return f32(a + b)


def sub(a, b):
    return f32(a - b)


def mul(a, b):
    return f32(a * b)


def div(a, b):
    return f32(divide(a, b))


def std_min(a, b):
    return b if b < a else a


def std_max(a, b):
    return b if a < b else a


def round_half_away(v):
    if math.isnan(v) or math.isinf(v):
        return v
    return math.copysign(math.floor(abs(v) + 0.5), v)


def round_half_even(v):
    if math.isnan(v) or math.isinf(v):
        return v
    return float(round(v))


def wrap(value, bits, signed):
    value &= (1 << bits) - 1
    if signed and value >= 1 << (bits - 1):
        value -= 1 << bits
    return value


def cvtt_int32(v):
    """cvttss2si: truncate; NaN or out of int32 range -> INT32_MIN."""
    if math.isnan(v) or not -(2.0**31) <= v < 2.0**31:
        return -(2**31)
    return int(v)


def cast_float(v, T):
    """Eigen .cast<T>() of a float: QInt32 uses (int64)lrint, the others truncate."""
    if T == "qint32":
        if math.isnan(v) or abs(v) >= 2.0**63:
            return 0
        return wrap(int(round_half_even(v)), 32, True)
    return wrap(cvtt_int32(v), BITS[T], LIMITS[T][0] < 0)


def adjusted_range(in_min, in_max, ensure_minimum_range):
    min_r = std_min(0.0, in_min)
    epsilon = mul(std_max(1.0, std_max(abs(in_min), abs(in_max))), ensure_minimum_range)
    return min_r, std_max(0.0, std_max(in_max, add(min_r, epsilon)))


def quantize_slice(values, in_min, in_max, T, mode, round_mode, narrow_range, emr):
    """Codes and (output_min, output_max) for one slice of float32 values."""
    lo, hi = LIMITS[T]
    x_values = [f32(float(v)) for v in values]
    min_r, max_r = adjusted_range(f32(in_min), f32(in_max), f32(emr))
    codes = []
    if mode == "MIN_COMBINED":
        scale = f32(divide(float(hi) - float(lo), sub(max_r, min_r)))
        half_range = f32((float(hi) - float(lo) + 1.0) / 2.0)
        for x in x_values:
            v = mul(sub(std_max(std_min(x, max_r), min_r), min_r), scale)
            if lo < 0:
                codes.append(cast_float(round_half_away(sub(v, half_range)), T))
            else:
                codes.append(wrap(cvtt_int32(add(v, 0.5)), BITS[T], False))
    elif mode == "MIN_FIRST":
        width = sub(max_r, min_r)
        scale = 0.0 if max_r == min_r else f32((2.0 ** BITS[T] - 1.0) / width)
        offset = sub(round_half_away(mul(min_r, scale)), float(lo))
        lower = std_max(f32(float(lo)), -2147483648.0)
        upper = std_min(f32(float(hi)), 2147483520.0)
        for x in x_values:
            v = sub(round_half_away(mul(x, scale)), offset)
            v = std_min(std_max(v, lower), upper)
            codes.append(wrap(cvtt_int32(v), BITS[T], lo < 0))
    else:
        low_code = f32(float(lo + (1 if narrow_range else 0)))
        high_code = f32(float(hi))
        from_min = div(low_code, min_r) if mul(low_code, min_r) > 0 else FLT_MAX
        from_max = div(high_code, max_r) if mul(high_code, max_r) > 0 else FLT_MAX
        scale = std_min(from_min, from_max)
        min_r, max_r = div(low_code, scale), div(high_code, scale)
        rounding = round_half_even if round_mode == "HALF_TO_EVEN" else round_half_away
        for x in x_values:
            v = mul(std_max(std_min(x, max_r), min_r), scale)
            codes.append(cast_float(rounding(v), T))
    return codes, min_r, max_r


def dequantize_slice(codes, min_range, max_range, T, mode, narrow_range, per_tensor):
    """float32 values (as Python floats) for one slice of integer codes."""
    lo, hi = LIMITS[T]
    min_r, max_r = f32(min_range), f32(max_range)
    float_codes = [f32(float(int(c))) for c in codes]
    if mode == "MIN_COMBINED":
        half_range = div(add(sub(f32(float(hi)), float(lo)), 1.0), 2.0) if lo < 0 else 0.0
        scale = div(sub(max_r, min_r), sub(f32(float(hi)), float(lo)))
        return [add(mul(add(c, half_range), scale), min_r) for c in float_codes]
    if mode == "MIN_FIRST":
        scale = f32(sub(max_r, min_r) / (2.0 ** BITS[T] - 1.0))
        if max_r == min_r:
            range_min_rounded = min_r
        else:
            range_min_rounded = mul(round_half_away(div(min_r, scale)), scale)
        offset = sub(range_min_rounded, mul(float(lo), scale))
        return [add(offset, mul(c, scale)) for c in float_codes]
    if lo == 0:
        scale = div(max_r, float(hi))
    else:
        low_code = f32(float(lo + (1 if narrow_range else 0)))
        scale = std_max(div(min_r, low_code), div(max_r, f32(float(hi))))
    if per_tensor and T == "qint32":
        float_codes = [float(cvtt_int32(c)) for c in float_codes]
    return [mul(c, scale) for c in float_codes]


def bfloat16(value):
    """float32 -> bfloat16 (round to nearest even; NaN -> quiet NaN), as float32 bits."""
    bits = struct.unpack("<I", struct.pack("<f", value))[0]
    if math.isnan(value):
        return (bits & 0x80000000) | 0x7FC00000
    return (((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16) & 0xFFFFFFFF


def float32_bits(value):
    return struct.unpack("<I", struct.pack("<f", value))[0]
