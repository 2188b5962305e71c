"""TensorFlow's quantize / dequantize on the board (tf.quantization.quantize / dequantize).

    q, out_min, out_max = micronn.quantize(x, -1.0, 2.0, "b", mode="SCALED")
    y = micronn.dequantize(q, out_min, out_max, mode="SCALED", T="b")
    y16 = micronn.dequantize_fixed(q, out_min, out_max, 16, mode="SCALED", T="b")

The results are TensorFlow's float32 results (the host's micronn.quantize / dequantize, bit
for bit); the refusals are TensorFlow's, in its words. Tensors are flat buffers (x an
array('f')); `shape` gives their shape when `axis` is used. The kernels are the _micronn C
module's when the firmware has them, else tfquant_f32.py. micronn imports this module only when
one of its functions is first used. docs/device-api.md, "TensorFlow's quantize / dequantize".
"""

from array import array
from math import ldexp

try:
    import _micronn

    BACKEND = "c" if hasattr(_micronn, "tf_quantize") else "python"
except ImportError:
    BACKEND = "python"

TYPES = {"qint8": "b", "quint8": "B", "qint16": "h", "quint16": "H", "qint32": "i"}
TYPECODES = "bBhHi"
NAMES = {"b": "qint8", "B": "quint8", "h": "qint16", "H": "quint16", "i": "qint32"}
MODES = ("MIN_COMBINED", "MIN_FIRST", "SCALED")
ROUND_MODES = ("HALF_AWAY_FROM_ZERO", "HALF_TO_EVEN")
LIMITS = {"b": (-128, 127), "B": (0, 255), "h": (-32768, 32767), "H": (0, 65535)}
LIMITS["i"] = (-2147483648, 2147483647)
FLT_MIN = ldexp(1.0, -126)
BAD_MODE = "Mode string must be 'MIN_COMBINED', 'MIN_FIRST', or 'SCALED', is '{}'"


def quantize(
    x,
    min_range,
    max_range,
    T,
    mode="MIN_COMBINED",
    round_mode="HALF_AWAY_FROM_ZERO",
    narrow_range=False,
    axis=None,
    ensure_minimum_range=0.01,
    shape=None,
    out=None,
):
    """Quantize the floats x to codes of T; returns (out, output_min, output_max).

    T: a typecode "b", "B", "h", "H", "i" (or TF's name: "qint8", ...). min_range, max_range:
    floats, or sequences of one per slice along axis. out: an array of T's typecode and of
    x's length (made when None). output_min / output_max are floats, or array('f') per slice.
    """
    typecode = _typecode(T)
    if mode not in MODES:
        raise ValueError(BAD_MODE.format(mode))
    if round_mode not in ROUND_MODES:
        raise ValueError(
            f"Round mode string must be 'HALF_AWAY_FROM_ZERO' or 'HALF_TO_EVEN', is '{round_mode}'"
        )
    if round_mode == "HALF_TO_EVEN" and mode != "SCALED":
        raise ValueError(
            f"Round mode 'HALF_TO_EVEN' only supported for mode 'SCALED', but mode is '{mode}'."
        )
    count = len(x)
    shape = _shape(shape, count, "x")
    axis = _axis(axis, len(shape), True)
    slices = 1 if axis == -1 else shape[axis]
    mins = _quantize_range(min_range, "min_range", axis, slices)
    maxs = _quantize_range(max_range, "max_range", axis, slices)
    if slices != 1 and mode == "MIN_FIRST":
        raise ValueError("MIN_FIRST mode is not implemented for Quantize with axis != -1.")
    for s in range(slices):
        if _flushed(maxs[s]) < _flushed(mins[s]):
            raise ValueError("input_max_range must be larger than input_min_range.")
    out = array(typecode, bytes(count * _itemsize(typecode))) if out is None else out
    _check_out(out, count)
    layout = _layout(shape, axis)
    if BACKEND == "c":
        params = array("i", (TYPECODES.index(typecode), MODES.index(mode)))
        params.extend(array("i", (round_mode == "HALF_TO_EVEN", bool(narrow_range))))
        params.extend(array("i", layout))
        _micronn.tf_quantize(params, ensure_minimum_range, x, mins, maxs, out)
    else:
        from . import tfquant_f32

        epsilon = array("f", (ensure_minimum_range,))[0]  # float32, not flushed (the host's)
        half_to_even = round_mode == "HALF_TO_EVEN"
        tfquant_f32.quantize(
            x, mins, maxs, typecode, mode, half_to_even, narrow_range, epsilon, layout, out
        )
    if slices == 1:
        return out, mins[0], maxs[0]
    return out, mins, maxs


def dequantize(
    q,
    min_range,
    max_range,
    mode="MIN_COMBINED",
    narrow_range=False,
    axis=None,
    T=None,
    dtype="float32",
    shape=None,
    out=None,
):
    """Map the codes q (an array of T's typecode) back to floats; returns out, an
    array('f') of q's length (made when None). T may be left out for a bytes or bytearray q
    (quint8); the ranges are used as given, as in TF. dtype "bfloat16" rounds each result to
    bfloat16 (still stored as float32), MIN_COMBINED only."""
    q, typecode, slices, layout = _dequantize_args(q, mode, axis, T, shape, dtype)
    bfloat16 = dtype == "bfloat16"
    mins, maxs = _dequantize_ranges(min_range, max_range, mode, layout[3], slices)
    out = array("f", bytes(4 * len(q))) if out is None else out
    _check_out(out, len(q))
    if BACKEND == "c":
        params = array("i", (TYPECODES.index(typecode), MODES.index(mode)))
        params.extend(array("i", (bfloat16, bool(narrow_range))))
        params.extend(array("i", layout[:3]))
        _micronn.tf_dequantize(params, q, mins, maxs, out)
    else:
        from . import tfquant_f32

        tfquant_f32.dequantize(q, mins, maxs, typecode, mode, narrow_range, layout[:3], out)
        if bfloat16:
            for i in range(len(out)):
                out[i] = tfquant_f32.to_bfloat16(out[i])
    return out


def dequantize_fixed(
    q,
    min_range,
    max_range,
    frac_bits,
    mode="MIN_COMBINED",
    narrow_range=False,
    axis=None,
    T=None,
    shape=None,
    out=None,
):
    """dequantize in fixed point, for boards without an FPU: out[i] (array('i')) is
    floor(y * 2**frac_bits + 1/2), y the exact value of TF's affine map for that code (its
    float32 scale and offset, without the rounding of each float32 step), saturated to int32.
    frac_bits: 0 to 31. Floats are used only once per slice, never per code."""
    q, typecode, slices, layout = _dequantize_args(q, mode, axis, T, shape, "float32")
    mins, maxs = _dequantize_ranges(min_range, max_range, mode, layout[3], slices)
    if not (type(frac_bits) is int and 0 <= frac_bits <= 31):
        raise ValueError(f"frac_bits must be an int from 0 to 31, got {frac_bits!r}")
    out = array("i", bytes(4 * len(q))) if out is None else out
    _check_out(out, len(q))
    from . import tfquant_fixed

    tfquant_fixed.dequantize(
        q, mins, maxs, typecode, mode, narrow_range, frac_bits, layout[:3], out, BACKEND == "c"
    )
    return out


def _output_type(dtype, mode):
    """dequantize's checks of dtype and mode, in TF's order."""
    if dtype not in ("float32", "float", "bfloat16"):
        raise ValueError(f"Output type must be bfloat16 or float, is '{dtype}'")
    if dtype == "bfloat16":
        if mode != "MIN_COMBINED":
            raise ValueError(
                f"When output type is bfloat16, Mode string must be 'MIN_COMBINED', is '{mode}'"
            )
    elif mode not in MODES:
        raise ValueError(BAD_MODE.format(mode))


def _typecode(T):
    if T in TYPES:
        return TYPES[T]
    if type(T) is str and len(T) == 1 and T in TYPECODES:
        return T
    raise ValueError(
        f"Value for attr 'T' of {T} is not in the list of allowed values: "
        "qint8, quint8, qint32, qint16, quint16"
    )


def _itemsize(typecode):
    return 4 if typecode == "i" else 2 if typecode in "hH" else 1


def _dequantize_args(q, mode, axis, T, shape, dtype):
    if T is None:
        if type(q) not in (bytes, bytearray):
            raise ValueError(
                f"cannot tell the quantized type of a {type(q).__name__} on the board: pass T "
                "('b', 'B', 'h', 'H' or 'i', or TF's 'qint8', 'quint8', 'qint16', 'quint16', "
                "'qint32')"
            )
        T = "B"
    typecode = _typecode(T)
    _output_type(dtype, mode)
    shape = _shape(shape, len(q), "q")
    axis = _axis(axis, len(shape), False)
    slices = 1 if axis == -1 else shape[axis]
    layout = _layout(shape, axis) + (axis,)
    if BACKEND != "c":
        _check_codes(q, typecode, T)
    return q, typecode, slices, layout


def _dequantize_ranges(min_range, max_range, mode, axis, slices):
    ranges = []
    for name, values in (("input_min_tensor", min_range), ("input_max_tensor", max_range)):
        values = _floats(values)
        if len(values) != slices:
            raise ValueError(
                f"{name} must have as many elements as input on the dequantization axis "
                f"({axis}), got {len(values)}, expected {slices}"
            )
        ranges.append(values)
    if slices != 1 and mode == "MIN_FIRST":
        raise ValueError("MIN_FIRST mode is not implemented for Dequantize with axis != -1.")
    return ranges


def _check_codes(q, typecode, T):
    """The python kernels read q as ints: each must be a code of T."""
    low, high = LIMITS[typecode]
    for c in q:
        if c < low or c > high:
            raise ValueError(f"codes must lie in [{low}, {high}] for T={NAMES[typecode]}")


def _flushed(v):
    return 0.0 if -FLT_MIN < v < FLT_MIN else v


def _floats(values):
    """A float or a sequence of floats as a new array('f')."""
    if isinstance(values, (int, float)):
        return array("f", (values,))
    return array("f", values)


def _quantize_range(values, name, axis, slices):
    scalar = isinstance(values, (int, float))
    values = _floats(values)
    if axis == -1:
        if len(values) != 1:
            raise ValueError(
                f"If axis is not specified, {name} must contain a single float element, "
                f"but it contains {len(values)} elements"
            )
        return values
    start = (
        f"If axis is specified, {name} must be a 1-D tensor whose size matches the "
        "axis dimension of the input and output tensors, but "
    )
    if scalar:
        raise ValueError(f"{start}{name} dims are 0")
    if len(values) != slices:
        raise ValueError(
            f"{start}{name} is a 1-D tensor of size {len(values)} and input's axis "
            f"dimension is of size {slices}"
        )
    return values


def _shape(shape, count, name):
    if shape is None:
        return (count,)
    shape = tuple(shape)
    total = 1
    for size in shape:
        total *= size
    if total != count:
        raise ValueError(
            f"shape {shape} holds {total} values but {name} has {count}: pass {name}'s shape"
        )
    return shape


def _axis(axis, rank, quantizing):
    """None -> -1 (per tensor); a negative axis -> axis % rank, as tf.quantization does."""
    if axis is None:
        return -1
    if not isinstance(axis, int):
        raise ValueError(f"axis must be an int or None, got {axis!r}")
    if axis < 0 and rank > 0:
        axis %= rank
    if axis >= rank or axis < 0:
        if quantizing:
            raise ValueError(
                "Axis is on a zero-based index, so its value must always be less than number "
                f"of input's dims, but given axis value was {axis} and input's dims was {rank}"
            )
        raise ValueError(f"Axis must be less than input dimension({rank}), got {axis}")
    return axis


def _layout(shape, axis):
    """(pre, slices, post): the [outer, axis, inner] view TF's kernels iterate over."""
    count = 1
    for size in shape:
        count *= size
    if axis == -1:
        return (1, 1, count)
    pre = 1
    for size in shape[:axis]:
        pre *= size
    post = 1
    for size in shape[axis + 1 :]:
        post *= size
    return (pre, shape[axis], post)


def _check_out(out, count):
    if len(out) != count:
        raise ValueError(f"out holds {len(out)} values, expected {count}: pass one per input")
