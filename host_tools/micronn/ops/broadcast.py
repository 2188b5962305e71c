"""Element-wise operators over two tensors with NumPy broadcasting, as TFLM's 4-D/6-D
broadcast loops: the output shape padded to 4 dims, and per input a stride per dim (0 where the
input is broadcast along it)."""

import numpy as np

from micronn.ops.checks import require, size

RANK = 4
DIMS = tuple(f"out_dim{k}" for k in range(RANK))
STRIDES = tuple(f"input{i}_stride{k}" for i in (1, 2) for k in range(RANK))
GEOMETRY = (*DIMS, *STRIDES)


def _padded(shape) -> tuple:
    shape = tuple(int(d) for d in shape)
    if len(shape) > RANK:
        raise ValueError(f"broadcasting supports up to {RANK} dimensions, got shape {shape}")
    return (1,) * (RANK - len(shape)) + shape


def broadcast_geometry(shape1, shape2) -> dict:
    """The geometry params of shape1 (op) shape2, or ValueError if they do not broadcast."""
    a, b = _padded(shape1), _padded(shape2)
    out = []
    for da, db in zip(a, b, strict=True):
        if da != db and 1 not in (da, db):
            raise ValueError(f"shapes {tuple(shape1)} and {tuple(shape2)} do not broadcast")
        out.append(max(da, db))
    params = dict(zip(DIMS, out, strict=True))
    for index, shape in ((1, a), (2, b)):
        stride = 1
        for k in reversed(range(RANK)):
            params[f"input{index}_stride{k}"] = 0 if shape[k] == 1 else stride
            stride *= shape[k]
    return params


def output_shape(layer) -> tuple:
    return tuple(layer.params[name] for name in DIMS)


def gather(layer, inputs) -> tuple:
    """Both inputs [batch, ...] as int64 arrays of the output's shape [batch, *dims]."""
    p = layer.params
    index = np.indices([p[name] for name in DIMS]).reshape(RANK, -1)
    gathered = []
    for number, x in enumerate(inputs, start=1):
        strides = np.array([p[f"input{number}_stride{k}"] for k in range(RANK)])
        flat = np.asarray(x, np.int64).reshape(x.shape[0], -1)
        gathered.append(flat[:, strides @ index])
    return gathered


def check_geometry(where, layer, in_shapes, out_shape) -> None:
    """Every index a stride reaches lies inside its input; the output holds the dims' product."""
    p = layer.params
    dims = [p[name] for name in DIMS]
    require(all(1 <= d < 2**16 for d in dims), f"{where}: output dims must be in 1..65535")
    require(size(out_shape) == size(dims), f"{where}: output tensor size disagrees with the dims")
    for number in (1, 2):
        strides = [p[f"input{number}_stride{k}"] for k in range(RANK)]
        require(all(0 <= s < 2**24 for s in strides), f"{where}: strides must be in 0..2^24")
        last = sum((d - 1) * s for d, s in zip(dims, strides, strict=True))
        reach = size(in_shapes[number - 1])
        require(last < reach, f"{where}: input {number} is smaller than its strides reach")
