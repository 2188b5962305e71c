"""TensorFlow's x86 CPU float32 arithmetic, element-wise over numpy arrays.

TF runs kernels with flush-to-zero and denormals-are-zero, one IEEE float32 operation at a
time. Every helper here returns float32 with denormal results flushed to a signed zero, so
chaining them reproduces a kernel's expression step by step. The casts reproduce the x86
conversions the kernels compile to (cvttss2si, lrint), including for NaN and overflow.
"""

import numpy as np

F32 = np.float32
FLT_MIN = F32(2.0**-126)
FLT_MAX = F32(np.finfo(np.float32).max)
INT32_MIN = -(2**31)


def flush(values):
    """FTZ/DAZ: denormals become zero of the same sign."""
    values = np.asarray(values, dtype=F32)
    return np.where(np.abs(values) < FLT_MIN, np.copysign(F32(0), values), values).astype(F32)


def add(a, b):
    return flush(np.add(a, b, dtype=F32))


def sub(a, b):
    return flush(np.subtract(a, b, dtype=F32))


def mul(a, b):
    return flush(np.multiply(a, b, dtype=F32))


def div(a, b):
    return flush(np.divide(a, b, dtype=F32))


def double_to_float(values):
    """A float64 result stored into a float (cvtsd2ss, also flushed)."""
    return flush(np.asarray(values, dtype=np.float64).astype(F32))


def std_min(a, b):
    """std::min(a, b) = b < a ? b : a (also Eigen's cwiseMin(b) on a tensor a)."""
    return np.where(b < a, b, a).astype(F32)


def std_max(a, b):
    """std::max(a, b) = a < b ? b : a (also Eigen's cwiseMax(b) on a tensor a)."""
    return np.where(a < b, b, a).astype(F32)


def round_half_away(values):
    """std::round: ties away from zero, exact for every float32."""
    truncated = np.trunc(values)
    away = np.abs(values - truncated) >= F32(0.5)
    return np.where(away, truncated + np.sign(values), truncated).astype(F32)


def round_half_even(values):
    return np.rint(values).astype(F32)


def truncate_to_int32(values):
    """static_cast<int32>(float) (cvttss2si): NaN and out-of-range give INT32_MIN."""
    wide = np.asarray(values, dtype=np.float64)
    in_range = (wide >= INT32_MIN) & (wide < 2.0**31)
    return np.where(in_range, np.trunc(wide), INT32_MIN).astype(np.int64).astype(np.int32)


def lrint_to_int32(values):
    """QInt32(float) = (int32)(int64)lrint(v): 2**31 wraps to INT32_MIN, NaN gives 0."""
    wide = np.asarray(values, dtype=np.float64)
    in_range = np.abs(wide) < 2.0**63
    return np.where(in_range, np.rint(wide), 0).astype(np.int64).astype(np.int32)


def to_bfloat16(values):
    """float -> bfloat16 (Eigen, round to nearest even), returned as float32 values."""
    bits = np.asarray(values, dtype=F32).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    quiet_nan = (bits & 0x80000000) | 0x7FC00000
    rounded = np.where(np.isnan(values), quiet_nan, rounded)
    return rounded.astype(np.uint32).view(F32)
