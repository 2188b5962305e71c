"""convert(): a trained model file to .mnq bytes."""

from pathlib import Path

import numpy as np

from micronn import container
from micronn.importers.npz import load_npz
from micronn.plan import quantize_network

IMPORTERS = {".npz": load_npz}


def load_model_file(path):
    suffix = Path(path).suffix.lower()
    if suffix not in IMPORTERS:
        raise ValueError(
            f"{path}: cannot import '{suffix}' files yet; supported: {', '.join(IMPORTERS)}"
        )
    return IMPORTERS[suffix](path)


def convert_to_model(
    model_path, calibration=None, weights="int8", per_tensor=False, method="minmax"
):
    """Import and quantize; calibration is an array or a path to a .npy file."""
    if isinstance(calibration, (str, Path)):
        calibration = np.load(calibration, allow_pickle=False)
    network = load_model_file(model_path)
    return quantize_network(network, calibration, weights, per_tensor, method)


def convert(
    model_path, output=None, calibration=None, weights="int8", per_tensor=False, method="minmax"
) -> bytes:
    """Convert a model file to .mnq bytes, and write them to `output` when given."""
    model = convert_to_model(model_path, calibration, weights, per_tensor, method)
    data = container.write(model)
    if output is not None:
        Path(output).write_bytes(data)
    return data
