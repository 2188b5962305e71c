"""TensorFlow's QuantizeV2 / Dequantize kernels in float32, one operation at a time.

The python backend of micronn.quantize / micronn.dequantize (tfquant.py), the same steps as the
host's micronn.quantize (host_tools/micronn/quantize.py) and as kernels/tfquant.c. Every basic
operation is rounded to float32 by a store through array('f') and denormals are flushed to a
signed zero (TF runs with FTZ/DAZ): on a float32 firmware the store changes nothing, on a
float64 VM (the unix port) it rounds the double result, which for +, -, *, / of float32
operands is the float32 result. The two quotients TF computes in double (K / width,
width / K with K = 2**bits - 1) are rounded with integers instead, so that a float32 firmware
gets them right too. No float is turned into an int unchecked: NaN and overflow take the codes
of TF's x86 casts, as on the host.

Tensors are flat, viewed as [pre, slices, post]; slice s has its own range.
"""

from array import array
from math import copysign, frexp, ldexp

_F = array("f", (0.0,))
FLT_MIN = ldexp(1.0, -126)
FLT_MAX = ldexp(16777215.0, 104)
INF = FLT_MAX * 2.0
NAN = INF - INF
TWO_31 = ldexp(1.0, 31)
TWO_23 = ldexp(1.0, 23)
# typecode: (lowest code, highest code, bits)
LIMITS = {
    "b": (-128, 127, 8),
    "B": (0, 255, 8),
    "h": (-32768, 32767, 16),
    "H": (0, 65535, 16),
    "i": (-2147483648, 2147483647, 32),
}
MODES = ("MIN_COMBINED", "MIN_FIRST", "SCALED")


def r(v):
    """v rounded to float32, a denormal flushed to zero of its sign."""
    _F[0] = v
    v = _F[0]
    if -FLT_MIN < v < FLT_MIN:
        return v * 0.0
    return v


def div(a, b):
    """a / b in float32 with IEEE results for a zero b (MicroPython raises there)."""
    if b == 0.0:
        if a != a or a == 0.0:
            return NAN
        return copysign(INF, a) * copysign(1.0, b)
    return r(a / b)


def std_min(a, b):
    return b if b < a else a


def std_max(a, b):
    return b if a < b else a


def clamp(v, low, high):
    """cwiseMin(high).cwiseMax(low): a NaN element stays NaN."""
    return std_max(std_min(v, high), low)


def finite(v):
    return v == v and -INF < v < INF


def round_half_away(v):
    if not finite(v) or not -TWO_23 < v < TWO_23:
        return v
    n = int(v)
    d = v - n
    if d >= 0.5:
        n += 1
    elif d <= -0.5:
        n -= 1
    return r(n) if n else v * 0.0


def round_half_even(v):
    if not finite(v) or not -TWO_23 < v < TWO_23:
        return v
    n = int(v)
    d = v - n
    if d > 0.5 or (d == 0.5 and n & 1):
        n += 1
    elif d < -0.5 or (d == -0.5 and n & 1):
        n -= 1
    return r(n) if n else v * 0.0


def wrap(n, typecode):
    """The low bits of int n as a code of typecode."""
    low, high, bits = LIMITS[typecode]
    if low <= n <= high:
        return n
    mask = (1 << bits) - 1
    n &= mask
    return n - mask - 1 if low < 0 and n > high else n


def truncate(v, typecode):
    """static_cast<int32>(v) then to T: NaN and out-of-range give INT32_MIN's low bits."""
    if v != v or not -TWO_31 <= v < TWO_31:
        return -2147483648 if typecode == "i" else 0
    return wrap(int(v), typecode)


def cast_rounded(v, typecode):
    """Eigen's .cast<T>() of a rounded float: QInt32 is (int32)(int64)lrint(v)."""
    if typecode != "i":
        return truncate(v, typecode)
    if v != v or not -ldexp(1.0, 63) < v < ldexp(1.0, 63):
        return 0
    return wrap(int(v), "i")


def to_bfloat16(v):
    """v rounded to bfloat16 (8 significant bits, nearest even), as a float32."""
    if v == 0.0 or not finite(v):
        return v
    f, e = frexp(abs(v))
    m = int(ldexp(f, 24))
    top, rest = m >> 16, m & 0xFFFF
    if rest > 0x8000 or (rest == 0x8000 and top & 1):
        top += 1
    return r(copysign(ldexp(float(top), e - 8), v))


def code_float(c):
    """float32(c) for an int32 code, rounded once even where float(big int) is not exact."""
    if -16777216 <= c <= 16777216:
        return float(c)
    return r(float(c >> 16) * 65536.0 + float(c & 0xFFFF))


def _mantissa(v):
    """A finite nonzero float as (m, e), v == m * 2**e with m a 24-bit int (or smaller)."""
    f, e = frexp(v)
    return int(ldexp(f, 24)), e - 24


def _round_ratio(p, q, bits):
    """Positive ints p / q rounded to nearest even with `bits` bits: (m, e), m * 2**e."""
    e = 0
    top = 1 << bits
    while p >= q * top:
        q <<= 1
        e += 1
    while p < q * (top >> 1):
        p <<= 1
        e -= 1
    m, rest = divmod(p, q)
    if 2 * rest > q or (2 * rest == q and m & 1):
        m += 1
    if m == top:
        m >>= 1
        e += 1
    return m, e


def _to_float32(m, e):
    """The double m * 2**e (m < 2**53) as float32: nearest even, then FTZ; inf past the top."""
    drop = 0
    while (m >> drop) >= 1 << 24:
        drop += 1
    if e + drop < -149:  # below float32's smallest denormal step: keep it at 2**-149
        drop = -149 - e
    if drop > 0:
        low = m & ((1 << drop) - 1)
        m >>= drop
        e += drop
        half = 1 << (drop - 1)
        if low > half or (low == half and m & 1):
            m += 1
    if m >= 1 << 24:
        m >>= 1
        e += 1
    if e > 104:
        return INF
    return r(ldexp(float(m), e))


def steps_over(width, steps):
    """float32(double(steps) / double(width)), width a float32 (TF: range_scale, scale)."""
    if width != width:
        return width
    if width == 0.0:
        return INF if copysign(1.0, width) > 0 else -INF
    if not finite(width):
        return 0.0 if width > 0 else -0.0
    m, e = _mantissa(abs(width))
    m53, e53 = _round_ratio(steps, m, 53)
    return copysign(_to_float32(m53, e53 - e), width)


def over_steps(width, steps):
    """float32(double(width) / steps), width a float32 (TF's dequantize range_scale)."""
    if width == 0.0 or not finite(width):
        return width
    m, e = _mantissa(abs(width))
    m53, e53 = _round_ratio(m, steps, 53)
    return copysign(_to_float32(m53, e53 + e), width)


def adjusted_range(in_min, in_max, epsilon_scale):
    """QuantizeSlice: widen the range to include 0 and to be at least epsilon wide."""
    min_r = std_min(0.0, in_min)
    largest = std_max(1.0, std_max(abs(in_min), abs(in_max)))
    epsilon = r(largest * epsilon_scale)
    max_r = std_max(0.0, std_max(in_max, r(min_r + epsilon)))
    return min_r, max_r


def _min_out(typecode, narrow_range):
    """float32(lowest code, + 1 if narrow_range): both are -2**31 for "i"."""
    if typecode == "i":
        return -TWO_31
    return float(LIMITS[typecode][0] + (1 if narrow_range else 0))


def scaled_range(min_r, max_r, typecode, narrow_range):
    """SCALED: (scale, output_min, output_max) for an adjusted range."""
    low, high, _ = LIMITS[typecode]
    min_out = _min_out(typecode, narrow_range)
    max_out = TWO_31 if typecode == "i" else float(high)
    from_min = div(min_out, min_r) if r(min_out * min_r) > 0 else FLT_MAX
    from_max = div(max_out, max_r) if r(max_out * max_r) > 0 else FLT_MAX
    scale = std_min(from_min, from_max)
    return scale, div(min_out, scale), div(max_out, scale)


def quantize(x, mins, maxs, typecode, mode, half_to_even, narrow_range, epsilon, layout, out):
    """Quantize the flat float array x into out; mins/maxs (array('f'), one per slice) become
    the adjusted output ranges."""
    pre, slices, post = layout
    low, high, bits = LIMITS[typecode]
    steps = (1 << bits) - 1
    for s in range(slices):
        min_r, max_r = adjusted_range(r(mins[s]), r(maxs[s]), epsilon)
        if mode == "SCALED":
            scale, min_r, max_r = scaled_range(min_r, max_r, typecode, narrow_range)
            rounding = round_half_even if half_to_even else round_half_away
        elif mode == "MIN_COMBINED":
            scale = steps_over(r(max_r - min_r), steps)
            half = float(1 << (bits - 1)) if low < 0 else 0.0
        else:
            scale = 0.0 if max_r == min_r else steps_over(r(max_r - min_r), steps)
            offset = r(round_half_away(r(min_r * scale)) - (-TWO_31 if bits == 32 else low))
            upper = 2147483520.0 if bits == 32 else float(high)
            lower = -TWO_31 if bits == 32 else float(low)
        mins[s], maxs[s] = min_r, max_r
        for p in range(pre):
            start = (p * slices + s) * post
            for i in range(start, start + post):
                v = r(x[i])
                if mode == "SCALED":
                    q = cast_rounded(rounding(r(clamp(v, min_r, max_r) * scale)), typecode)
                elif mode == "MIN_FIRST":
                    v = r(round_half_away(r(v * scale)) - offset)
                    q = truncate(clamp(v, lower, upper), typecode)
                elif low < 0:
                    v = r(r(clamp(v, min_r, max_r) - min_r) * scale)
                    q = cast_rounded(round_half_away(r(v - half)), typecode)
                else:
                    v = r(r(clamp(v, min_r, max_r) - min_r) * scale)
                    q = truncate(r(v + 0.5), typecode)
                out[i] = q


def affine(min_r, max_r, typecode, mode, narrow_range):
    """Dequantize of one slice as y = offset + code * scale, TF's float32 constants:
    (offset, scale, half) where MIN_COMBINED computes ((code + half) * scale) + offset."""
    low, high, bits = LIMITS[typecode]
    if mode == "MIN_COMBINED":
        top, bottom = (TWO_31, -TWO_31) if bits == 32 else (float(high), float(low))
        half = div(r(r(top - bottom) + 1.0), 2.0) if low < 0 else 0.0
        return min_r, div(r(max_r - min_r), r(top - bottom)), half
    if mode == "MIN_FIRST":
        scale = over_steps(r(max_r - min_r), (1 << bits) - 1)
        snapped = r(round_half_away(div(min_r, scale)) * scale)
        rounded_min = min_r if max_r == min_r else snapped
        bottom = -TWO_31 if bits == 32 else float(low)
        return r(rounded_min - r(bottom * scale)), scale, 0.0
    top = TWO_31 if bits == 32 else float(high)
    if low == 0:
        return 0.0, div(max_r, top), 0.0
    min_out = _min_out(typecode, narrow_range)
    return 0.0, std_max(div(min_r, min_out), div(max_r, top)), 0.0


def dequantize(q, mins, maxs, typecode, mode, narrow_range, layout, out):
    """Dequantize the flat codes q into the float array out."""
    pre, slices, post = layout
    wraps = typecode == "i" and mode == "SCALED" and slices == 1
    for s in range(slices):
        offset, scale, half = affine(r(mins[s]), r(maxs[s]), typecode, mode, narrow_range)
        for p in range(pre):
            start = (p * slices + s) * post
            for i in range(start, start + post):
                c = code_float(q[i])
                if wraps and c >= TWO_31:  # TF casts QInt32 -> int through float here
                    c = -TWO_31
                if mode == "MIN_COMBINED":
                    out[i] = r(r(r(c + half) * scale) + offset)
                elif mode == "MIN_FIRST":
                    out[i] = r(offset + r(c * scale))
                else:
                    out[i] = r(c * scale)
