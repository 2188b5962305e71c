"""Small float dense stacks saved in the docs/npz.md layout, for CLI and simulation tests."""

from pathlib import Path

import numpy as np

import micronn


def write_dense_npz(path: Path, sizes, seed: int = 0, activations=None) -> Path:
    """A random float network with layer sizes e.g. (8, 6, 4); relu between, none at the end."""
    rng = np.random.default_rng(seed)
    count = len(sizes) - 1
    activations = activations or ["relu"] * (count - 1) + ["none"]
    arrays = {"input_shape": np.array([sizes[0]])}
    for i in range(count):
        fan_in, fan_out = sizes[i], sizes[i + 1]
        arrays[f"layer{i}_weight"] = rng.normal(0, 1 / np.sqrt(fan_in), (fan_out, fan_in))
        arrays[f"layer{i}_bias"] = rng.normal(0, 0.1, fan_out)
        arrays[f"layer{i}_activation"] = np.array(activations[i])
    np.savez(path, **arrays)
    return path


def calibration_inputs(size: int, rows: int = 64, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (rows, size)).astype(np.float32)


def small_container(tmp_path: Path, sizes=(8, 6, 4), **options) -> bytes:
    npz = write_dense_npz(tmp_path / "small.npz", sizes)
    return micronn.convert(npz, calibration=calibration_inputs(sizes[0]), **options)
