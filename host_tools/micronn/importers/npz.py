"""The .npz dense-stack layout (docs/npz.md)."""

import numpy as np

from micronn.graph import FloatGraph
from micronn.graph_builder import GraphBuilder


def _range(archive, key):
    if key not in archive:
        return None
    values = np.asarray(archive[key], dtype=np.float64).reshape(-1)
    if values.size != 2 or not np.all(np.isfinite(values)) or values[0] > values[1]:
        raise ValueError(f"{key} must be two finite floats [min, max] with min <= max")
    return float(values[0]), float(values[1])


def load_npz(path) -> FloatGraph:
    """Read layer{i}_weight [out, in], layer{i}_bias, layer{i}_activation, input_shape."""
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: cannot read as .npz ({error})") from None
    with archive:
        if "input_shape" not in archive:
            raise ValueError(f"{path}: missing 'input_shape' (see docs/npz.md)")
        input_shape = tuple(int(d) for d in np.asarray(archive["input_shape"]).reshape(-1))
        builder = GraphBuilder(input_shape, _range(archive, "input_range"))
        tensor, index = builder.input, 0
        while f"layer{index}_weight" in archive:
            prefix = f"layer{index}_"
            if prefix + "bias" not in archive:
                raise ValueError(f"{path}: {prefix}weight has no {prefix}bias")
            activation = "none"
            if prefix + "activation" in archive:
                activation = str(np.asarray(archive[prefix + "activation"]).reshape(-1)[0])
            try:
                tensor = builder.dense(
                    tensor,
                    archive[prefix + "weight"],
                    archive[prefix + "bias"],
                    activation,
                    name=f"layer{index}",
                )
            except ValueError as error:
                raise ValueError(f"{path}: layer {index}: {error}") from None
            output_range = _range(archive, prefix + "output_range")
            if output_range is not None:
                builder.set_range(tensor, output_range)
            index += 1
        unknown = sorted(
            key
            for key in archive.files
            if key not in ("input_shape", "input_range")
            and not any(key.startswith(f"layer{i}_") for i in range(index))
        )
    if index == 0:
        raise ValueError(f"{path}: no layers found (expected layer0_weight, layer0_bias, ...)")
    if unknown:
        raise ValueError(f"{path}: unexpected keys {unknown} (see docs/npz.md)")
    return builder.build(tensor)
