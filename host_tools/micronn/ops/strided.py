"""TRANSPOSE and STRIDED_SLICE (also SLICE and each output of SPLIT / SPLIT_V) of an int8
tensor: a strided walk that copies codes, bit-exact with TFLM's int8 kernels
(micro/kernels/transpose.cc, strided_slice.cc, slice.cc, split.cc), which move codes without
requantizing.

The record walks the output as 4 dims; output element (i0, i1, i2, i3) is input element
offset + sum(i_k * stride_k). TRANSPOSE has no offset and strides >= 0 (a permutation of the
input's); STRIDED_SLICE's strides may be negative. Adjacent dims that walk contiguously are
merged at prepare, so the innermost loop is as long as it can be.
"""

import numpy as np

from micronn.model import Layer
from micronn.ops.checks import require, size
from micronn.ops.operator import Operator

RANK = 4
DIMS = tuple(f"out_dim{k}" for k in range(RANK))
STRIDES = tuple(f"in_stride{k}" for k in range(RANK))
DIM_LIMIT = 1 << 16
STRIDE_LIMIT = 1 << 24
INPUT_LIMIT = 1 << 29  # so that an index one stride past the walk is still below 2^30


def _row_major_strides(shape) -> list:
    strides, step = [], 1
    for d in reversed(shape):
        strides.insert(0, step)
        step *= d
    return strides


def _walk(dims, strides) -> dict:
    """The 4-dim walk of (dims, strides), with dims of 1 dropped and contiguous dims merged."""
    pairs = [(int(d), int(s)) for d, s in zip(dims, strides, strict=True) if d != 1]
    merged = []
    for d, s in pairs:
        if merged and merged[-1][1] == s * d:  # the outer dim steps over exactly this one
            outer, _ = merged.pop()
            merged.append((outer * d, s))
        else:
            merged.append((d, s))
    if len(merged) > RANK:
        raise ValueError(f"a walk of {len(merged)} dims does not fit the record's {RANK}")
    merged = [(1, 0)] * (RANK - len(merged)) + merged
    for d, s in merged:
        if not (d < DIM_LIMIT and abs(s) < STRIDE_LIMIT):
            raise ValueError(f"a dim of {d} or a stride of {s} is too large for micronn")
    params = {DIMS[k]: merged[k][0] for k in range(RANK)}
    return params | {STRIDES[k]: merged[k][1] for k in range(RANK)}


def prepare_transpose(shape, perm, inputs=(0,), output_tensor=1) -> Layer:
    """A TRANSPOSE layer: output dim k is input dim perm[k] of a tensor shaped `shape`."""
    shape, perm = tuple(int(d) for d in shape), [int(p) for p in np.asarray(perm).reshape(-1)]
    if sorted(perm) != list(range(len(shape))):
        raise ValueError(f"perm {perm} is not a permutation of the {len(shape)} dims")
    strides = _row_major_strides(shape)
    params = _walk([shape[p] for p in perm], [strides[p] for p in perm])
    return Layer("TRANSPOSE", params, {}, tuple(inputs), output_tensor)


def _start(begin, dim, step, masked):
    """TFLM's strided_slice::StartForAxis."""
    if masked:
        return 0 if step > 0 else dim - 1
    start = begin + dim if begin < 0 else begin
    return min(max(start, 0), dim) if step > 0 else min(max(start, -1), dim - 1)


def _stop(end, dim, step, masked):
    """TFLM's strided_slice::StopForAxis (shrink handled by the caller)."""
    if masked:
        return dim if step > 0 else -1
    stop = end + dim if end < 0 else end
    return min(max(stop, 0), dim) if step > 0 else min(max(stop, -1), dim - 1)


def slice_walk(shape, begin, end, strides, begin_mask=0, end_mask=0, shrink_axis_mask=0):
    """(start, count, step) per axis of a StridedSlice, as TFLM's Prepare computes them."""
    walk = []
    for axis, dim in enumerate(shape):
        step = int(strides[axis])
        if step == 0:
            raise ValueError("a STRIDED_SLICE stride is 0")
        start = _start(int(begin[axis]), dim, step, begin_mask >> axis & 1)
        if shrink_axis_mask >> axis & 1:
            stop = start + 1
        else:
            stop = _stop(int(end[axis]), dim, step, end_mask >> axis & 1)
        walk.append((start, len(range(start, stop, step)), step))
    return walk


def prepare_strided_slice(shape, walk, inputs=(0,), output_tensor=1) -> Layer:
    """A STRIDED_SLICE layer of a tensor shaped `shape`; walk: (start, count, step) per axis
    (slice_walk, or SLICE's begin and size with step 1)."""
    shape = tuple(int(d) for d in shape)
    if len(walk) != len(shape):
        raise ValueError(f"a slice of a {len(shape)}-D tensor needs {len(shape)} (begin, size)")
    in_strides = _row_major_strides(shape)
    for axis, (start, count, step) in enumerate(walk):
        last = start + (count - 1) * step
        if count < 1 or not (0 <= start < shape[axis] and 0 <= last < shape[axis]):
            raise ValueError(
                f"the slice of axis {axis} (start {start}, {count} x step {step}) is empty or "
                f"leaves the dim of {shape[axis]}"
            )
    offset = sum(start * in_strides[axis] for axis, (start, _, _) in enumerate(walk))
    params = _walk([c for _, c, _ in walk], [s * in_strides[a] for a, (_, _, s) in enumerate(walk)])
    params = {"offset": int(offset)} | params
    ordered = {name: params[name] for name in STRIDED_SLICE_PARAMS}
    return Layer("STRIDED_SLICE", ordered, {}, tuple(inputs), output_tensor)


def _indices(p) -> np.ndarray:
    index = np.indices([p[name] for name in DIMS]).reshape(RANK, -1)
    strides = np.array([p[name] for name in STRIDES], np.int64)
    return p.get("offset", 0) + strides @ index


def evaluate(layer, inputs, out_shape):
    x = np.asarray(inputs[0], np.int8)
    flat = x.reshape(x.shape[0], -1)
    return flat[:, _indices(layer.params)].reshape(x.shape[0], *out_shape)


def _reach(p) -> tuple:
    """The lowest and the highest input index the walk reads."""
    low = high = p.get("offset", 0)
    for dim, stride in zip(DIMS, STRIDES, strict=True):
        span = (p[dim] - 1) * p[stride]
        low, high = low + min(span, 0), high + max(span, 0)
    return low, high


def _check_walk(where, p, in_shapes, out_shape, low_stride):
    require(all(1 <= p[name] < DIM_LIMIT for name in DIMS), f"{where}: dims must be in 1..65535")
    require(
        all(low_stride < p[name] < STRIDE_LIMIT for name in STRIDES),
        f"{where}: strides must be in {low_stride + 1}..2^24",
    )
    require(
        size(out_shape) == size([p[name] for name in DIMS]),
        f"{where}: the output tensor size disagrees with the dims",
    )
    require(size(in_shapes[0]) < INPUT_LIMIT, f"{where}: the input must hold fewer than 2^29 codes")
    low, high = _reach(p)
    require(low >= 0 and high < size(in_shapes[0]), f"{where}: the walk leaves the input")


def check_transpose(where, layer, in_shapes, out_shape):
    _check_walk(where, layer.params, in_shapes, out_shape, -1)


def check_strided_slice(where, layer, in_shapes, out_shape):
    p = layer.params
    require(0 <= p["offset"] < INPUT_LIMIT, f"{where}: offset must be in 0..2^29")
    _check_walk(where, p, in_shapes, out_shape, -STRIDE_LIMIT)


def output_shape(layer) -> tuple:
    return tuple(layer.params[name] for name in DIMS)


STRIDED_SLICE_PARAMS = ("offset", *DIMS, *STRIDES)

OPERATORS = (
    Operator(
        "TRANSPOSE",
        32,
        (*DIMS, *STRIDES),
        check_transpose,
        evaluate,
        output_shape,
        family="shape",
    ),
    Operator(
        "STRIDED_SLICE",
        33,
        STRIDED_SLICE_PARAMS,
        check_strided_slice,
        evaluate,
        output_shape,
        family="shape",
    ),
)
