"""micronn.dequantize_fixed: TF's dequantize as Q-format int32, with integers only per code.

TF's dequantize of a slice is affine in the code c: y = offset + (c + half) * scale, with
float32 constants computed once from the range (tfquant_f32.affine). The fixed-point result is
    Y = floor(2**F * (offset + (c + half) * scale) + 1/2), saturated to int32,
computed exactly: offset and scale are m * 2**e with integer m, so with S fraction bits
    Y = (A + c * B) >> S,  B = 2**(F + S) * scale,  A = 2**(F + S) * (offset + half * scale)
    + 2**(S - 1),
all ints (S is the smallest count, at least 1, that makes them so). Per code the python kernel
stays in small ints whenever every code of T dequantizes into 31 bits: 8-bit codes read a
256-entry table; 16-bit codes split c - lowest into a high and a low byte,
Y = high[h] + low[l] + carry, where the carry compares the two bytes' remainders through their
ranks (both made once per slice); 32-bit codes compute (A + c * B) >> S directly. The C
kernel takes (A, B, S) as int64 when they fit (|A| + 2**32 |B| < 2**62), else python runs.
"""

from array import array
from math import frexp, ldexp

from .tfquant_f32 import LIMITS, affine, finite, r

INT32_MIN = -2147483648
INT32_MAX = 2147483647
C_LIMIT = 1 << 62


def _split(v):
    """A float32 value as ints (m, e), v == m * 2**e."""
    if v == 0.0:
        return 0, 0
    f, e = frexp(v)
    return int(ldexp(f, 24)), e - 24


def terms(offset, scale, half, frac_bits, index):
    """Ints (A, B, S) with Y == (A + c * B) >> S for every code c of the slice."""
    if not (finite(offset) and finite(scale)):
        raise ValueError(
            f"slice {index} dequantizes with scale {scale} and offset {offset}: a fixed-point "
            "result needs a finite, non-empty range; pass another min_range / max_range"
        )
    m_offset, e_offset = _split(offset)
    m_scale, e_scale = _split(scale)
    shift = max(1, -(e_offset + frac_bits), -(e_scale + frac_bits))
    b = m_scale << (e_scale + frac_bits + shift)
    a = (m_offset << (e_offset + frac_bits + shift)) + int(half) * b + (1 << (shift - 1))
    return a, b, shift


def _saturate(y):
    return INT32_MIN if y < INT32_MIN else INT32_MAX if y > INT32_MAX else y


def _byte_tables(a, b, shift, low):
    """16-bit codes: u = c - low = 256 h + l; Y = high[h] + low_q[l] + (rank_h[h] >= rank_l[l])."""
    a += low * b
    one = 1 << shift
    high, rest_h, low_q, need_l = [], [], [], []
    for h in range(256):
        q, rest = divmod(a + (h << 8) * b, one)
        high.append(q)
        rest_h.append(rest)
    for lo in range(256):
        q, rest = divmod(lo * b, one)
        low_q.append(q)
        need_l.append(one - rest)  # carry when the high byte's rest reaches it
    order = sorted(set(rest_h + need_l))
    rank = {value: index for index, value in enumerate(order)}
    rank_h = array("H", [rank[v] for v in rest_h])
    rank_l = array("H", [rank[v] for v in need_l])
    return high, low_q, rank_h, rank_l


def _slice(q, out, a, b, shift, typecode, starts, post):
    low, high, bits = LIMITS[typecode]
    if bits == 8:
        table = [_saturate((a + c * b) >> shift) for c in range(low, high + 1)]
        for start in starts:
            for i in range(start, start + post):
                out[i] = table[q[i] - low]
    elif bits == 16:
        top, bottom, rank_h, rank_l = _byte_tables(a, b, shift, low)
        for start in starts:
            for i in range(start, start + post):
                u = q[i] - low
                h = u >> 8
                lo = u & 255
                y = top[h] + bottom[lo]
                if rank_h[h] >= rank_l[lo]:
                    y += 1
                out[i] = _saturate(y)
    else:
        for start in starts:
            for i in range(start, start + post):
                out[i] = _saturate((a + q[i] * b) >> shift)


def dequantize(q, mins, maxs, typecode, mode, narrow_range, frac_bits, layout, out, use_c):
    pre, slices, post = layout
    every = []
    for s in range(slices):
        offset, scale, half = affine(r(mins[s]), r(maxs[s]), typecode, mode, narrow_range)
        every.append(terms(offset, scale, half, frac_bits, s))
    if use_c and all(abs(a) + (abs(b) << 32) < C_LIMIT for a, b, _ in every):
        import _micronn

        flat = array("q", bytes(24 * slices))
        for s in range(slices):
            flat[3 * s], flat[3 * s + 1], flat[3 * s + 2] = every[s]
        params = array("i", ("bBhHi".index(typecode), pre, slices, post))
        _micronn.tf_dequantize_fixed(params, flat, q, out)
        return
    for s in range(slices):
        a, b, shift = every[s]
        starts = [(p * slices + s) * post for p in range(pre)]
        _slice(q, out, a, b, shift, typecode, starts, post)
