"""Static-shape plumbing folded at import: the converter's shape arithmetic and reshapes.

SHAPE, STRIDED_SLICE and PACK on static values are evaluated here (with batch 1). RESHAPE,
EXPAND_DIMS and SQUEEZE of an int8 activation move no data (NHWC row-major), so their output
becomes an alias of their input; this module checks they really are pure views.
"""

import numpy as np

from micronn.importers.tflite.reader import NO_INPUT

SHAPE_OPS = ("SHAPE", "STRIDED_SLICE", "PACK")
VIEW_OPS = ("RESHAPE", "EXPAND_DIMS", "SQUEEZE")


def evaluate_shape_op(op, values: dict, tensors: list) -> np.ndarray | None:
    """The value of a shape-arithmetic op whose inputs are all known, or None."""
    if op.name == "SHAPE":
        shape = list(tensors[op.inputs[0]].shape)
        dtype = np.int64 if op.options.get("out_type") == 4 else np.int32
        return np.array(shape, dtype)
    if any(t == NO_INPUT or t not in values for t in op.inputs):
        return None
    arguments = [values[t] for t in op.inputs]
    if op.name == "PACK":
        return np.stack(arguments, axis=op.options.get("axis", 0))
    return _strided_slice(op, *arguments)


def _strided_slice(op, data, begin, end, strides=None):
    options = op.options
    if options.get("ellipsis_mask", 0) or options.get("new_axis_mask", 0):
        return None
    strides = np.ones(len(begin), np.int64) if strides is None else strides
    index = []
    for axis in range(data.ndim):
        if axis >= len(begin):
            index.append(slice(None))
            continue
        start, stop, step = int(begin[axis]), int(end[axis]), int(strides[axis])
        if options.get("offset", False):
            stop += start
        if options.get("shrink_axis_mask", 0) >> axis & 1:
            index.append(start)
            continue
        if options.get("begin_mask", 0) >> axis & 1:
            start = None
        if options.get("end_mask", 0) >> axis & 1:
            stop = None
        index.append(slice(start, stop, step))
    return np.asarray(data[tuple(index)])


def view_problem(op, in_shape: tuple, out_shape: tuple, values: dict) -> str | None:
    """Why RESHAPE/EXPAND_DIMS/SQUEEZE here is not a pure view, or None."""
    in_size, out_size = int(np.prod(in_shape)), int(np.prod(out_shape))
    if in_size != out_size:
        return f"changes the size from {list(in_shape)} to {list(out_shape)}"
    if op.name == "RESHAPE" and len(op.inputs) > 1 and op.inputs[1] in values:
        wanted = _resolve_new_shape(values[op.inputs[1]], in_size)
        if wanted is not None and wanted != tuple(out_shape):
            return (
                f"computes the shape {list(wanted)} but its output is stored as {list(out_shape)}"
            )
    return None


def _resolve_new_shape(new_shape, size: int) -> tuple | None:
    dims = [int(d) for d in np.asarray(new_shape).reshape(-1)]
    if dims.count(-1) > 1:
        return None
    if -1 in dims:
        known = int(np.prod([d for d in dims if d != -1])) or 1
        dims[dims.index(-1)] = size // known
    return tuple(dims)
