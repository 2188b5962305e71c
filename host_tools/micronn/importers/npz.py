"""The .npz dense-stack layout (docs/npz.md)."""

import numpy as np

from micronn.arrays import load_npz as load_arrays
from micronn.graph import FloatGraph
from micronn.graph_builder import GraphBuilder

ADVICE = "see docs/npz.md"


def _numbers(arrays, key) -> np.ndarray:
    value = arrays[key]
    if value.dtype.kind not in "biuf":
        raise ValueError(f"'{key}' holds {value.dtype} values; it must hold numbers ({ADVICE})")
    return value


def _range(arrays, key):
    if key not in arrays:
        return None
    values = _numbers(arrays, key).astype(np.float64).reshape(-1)
    if values.size != 2 or not np.all(np.isfinite(values)) or values[0] > values[1]:
        raise ValueError(f"'{key}' must be two finite floats [min, max] with min <= max")
    return float(values[0]), float(values[1])


def _input_shape(arrays) -> tuple:
    if "input_shape" not in arrays:
        raise ValueError(f"missing 'input_shape' ({ADVICE})")
    dims = _numbers(arrays, "input_shape").reshape(-1)
    if dims.dtype.kind == "f" and not np.all(np.isfinite(dims) & (dims == np.round(dims))):
        raise ValueError(f"'input_shape' {dims.tolist()} must hold whole numbers ({ADVICE})")
    return tuple(int(d) for d in dims)


def _activation(arrays, key) -> str:
    if key not in arrays:
        return "none"
    value = arrays[key]
    if value.dtype.kind not in "US" or value.size != 1:
        raise ValueError(f"'{key}' must be one string such as 'relu' ({ADVICE})")
    item = value.reshape(-1)[0]
    return item.decode("latin-1") if isinstance(item, bytes) else str(item)


def _graph(arrays) -> FloatGraph:
    builder = GraphBuilder(_input_shape(arrays), _range(arrays, "input_range"))
    tensor, index = builder.input, 0
    while f"layer{index}_weight" in arrays:
        prefix = f"layer{index}_"
        if prefix + "bias" not in arrays:
            raise ValueError(f"{prefix}weight has no {prefix}bias")
        try:
            tensor = builder.dense(
                tensor,
                _numbers(arrays, prefix + "weight"),
                _numbers(arrays, prefix + "bias"),
                _activation(arrays, prefix + "activation"),
                name=f"layer{index}",
            )
        except ValueError as error:
            raise ValueError(f"layer {index}: {error}") from None
        output_range = _range(arrays, prefix + "output_range")
        if output_range is not None:
            builder.set_range(tensor, output_range)
        index += 1
    if index == 0:
        raise ValueError("no layers found (expected layer0_weight, layer0_bias, ...)")
    unknown = sorted(
        key
        for key in arrays
        if key not in ("input_shape", "input_range")
        and not any(key.startswith(f"layer{i}_") for i in range(index))
    )
    if unknown:
        raise ValueError(f"unexpected keys {unknown} ({ADVICE})")
    return builder.build(tensor)


def load_npz(path) -> FloatGraph:
    """Read layer{i}_weight [out, in], layer{i}_bias, layer{i}_activation, input_shape."""
    arrays = load_arrays(path, text=True)  # names the file in its errors
    try:
        return _graph(arrays)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
