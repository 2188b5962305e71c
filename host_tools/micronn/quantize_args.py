"""Argument checks for quantize()/dequantize(), refusing what TensorFlow refuses in its words.

Messages are those of TF's QuantizeV2/Dequantize kernels and op registry (quantize_op.cc,
dequantize_op.cc, array_ops.cc); a negative axis is normalised as tf.quantization does
(axis % rank, so -rank-1 wraps to the last axis).
"""

import operator

import numpy as np

QUANTIZED_DTYPES = {
    "qint8": np.dtype(np.int8),
    "quint8": np.dtype(np.uint8),
    "qint16": np.dtype(np.int16),
    "quint16": np.dtype(np.uint16),
    "qint32": np.dtype(np.int32),
}
MODES = ("MIN_COMBINED", "MIN_FIRST", "SCALED")
ROUND_MODES = ("HALF_AWAY_FROM_ZERO", "HALF_TO_EVEN")
OUTPUT_DTYPES = {"float32": "float32", "float": "float32", "bfloat16": "bfloat16"}
BAD_MODE = "Mode string must be 'MIN_COMBINED', 'MIN_FIRST', or 'SCALED', is '{}'"


def quantized_dtype(T):
    if T not in QUANTIZED_DTYPES:
        raise ValueError(
            f"Value for attr 'T' of {T} is not in the list of allowed values: "
            "qint8, quint8, qint32, qint16, quint16"
        )
    return QUANTIZED_DTYPES[T]


def check_quantize_modes(mode, round_mode):
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


def check_dequantize_modes(mode, dtype):
    name = dtype if isinstance(dtype, str) else np.dtype(dtype).name
    if name not in OUTPUT_DTYPES:
        raise ValueError(f"Output type must be bfloat16 or float, is '{name}'")
    if OUTPUT_DTYPES[name] == "bfloat16":
        if mode != "MIN_COMBINED":
            raise ValueError(
                f"When output type is bfloat16, Mode string must be 'MIN_COMBINED', is '{mode}'"
            )
    elif mode not in MODES:
        raise ValueError(BAD_MODE.format(mode))
    return OUTPUT_DTYPES[name]


def float32_array(values, what):
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{what} must be real numbers, got dtype {array.dtype}")
    with np.errstate(over="ignore"):  # beyond float32's range becomes inf, as in TF
        return array.astype(np.float32)


def quantized_array(q, T):
    """q as the numpy dtype of T; T defaults to the type q's dtype stands for."""
    q = np.asarray(q)
    if T is None:
        names = {dtype: name for name, dtype in QUANTIZED_DTYPES.items()}
        if q.dtype not in names:
            raise ValueError(
                f"cannot tell the quantized type of a {q.dtype} array: pass T "
                "('qint8', 'quint8', 'qint16', 'quint16' or 'qint32') or an "
                "int8/uint8/int16/uint16/int32 array"
            )
        T = names[q.dtype]
    dtype = quantized_dtype(T)
    if q.dtype == dtype:
        return q, T
    info = np.iinfo(dtype)
    if q.dtype.kind not in "iu":
        raise ValueError(f"quantized input must hold integer codes, got dtype {q.dtype}")
    if q.size and (q.min() < info.min or q.max() > info.max):
        raise ValueError(f"codes must lie in [{info.min}, {info.max}] for T={T}")
    return q.astype(dtype), T


def normalized_axis(axis, rank, op):
    """None -> -1 (per tensor); a negative axis -> axis % rank, as tf.quantization does."""
    if axis is None:
        return -1
    try:
        axis = operator.index(axis)
    except TypeError:
        raise ValueError(f"axis must be an int or None, got {axis!r}") from None
    if axis < 0 and rank > 0:
        axis %= rank
    if axis >= rank or axis < 0:
        if op == "quantize":
            raise ValueError(
                "Axis is on a zero-based index, so its value must always be less than number "
                f"of input's dims, but given axis value was {axis} and input's dims was {rank}"
            )
        raise ValueError(f"Axis must be less than input dimension({rank}), got {axis}")
    return axis


def quantize_ranges(min_range, max_range, axis, num_slices):
    """QuantizeV2's checks on min_range/max_range; returns them as flat float32 arrays."""
    ranges = []
    for name, values in (("min_range", min_range), ("max_range", max_range)):
        values = float32_array(values, name)
        if axis == -1:
            if values.size != 1:
                raise ValueError(
                    f"If axis is not specified, {name} must contain a single float element, "
                    f"but it contains {values.size} elements"
                )
        else:
            start = (
                f"If axis is specified, {name} must be a 1-D tensor whose size matches the "
                "axis dimension of the input and output tensors, but "
            )
            if values.ndim != 1:
                raise ValueError(f"{start}{name} dims are {values.ndim}")
            if values.size != num_slices:
                raise ValueError(
                    f"{start}{name} is a 1-D tensor of size {values.size} and input's axis "
                    f"dimension is of size {num_slices}"
                )
        ranges.append(values.reshape(-1)[:1] if axis == -1 else values)
    return ranges


def dequantize_ranges(min_range, max_range, axis, num_slices):
    """Dequantize's checks on min_range/max_range; returns them as flat float32 arrays."""
    ranges = []
    for name, values in (("input_min_tensor", min_range), ("input_max_tensor", max_range)):
        values = float32_array(values, name).reshape(-1)
        if values.size != num_slices:
            raise ValueError(
                f"{name} must have as many elements as input on the dequantization axis "
                f"({axis}), got {values.size}, expected {num_slices}"
            )
        ranges.append(values)
    return ranges


def check_per_axis_mode(mode, op):
    """TF has no per-axis MIN_FIRST (more or fewer than one slice along the axis)."""
    if mode == "MIN_FIRST":
        raise ValueError(f"MIN_FIRST mode is not implemented for {op} with axis != -1.")
