"""Activation ranges from calibration data."""

import numpy as np

METHODS = ("minmax", "percentile")
PERCENTILE = 99.99


def observed_range(values: np.ndarray, method: str = "minmax") -> tuple:
    """(min, max) of the values; 'percentile' clips the 0.01 % tails on each side."""
    if method not in METHODS:
        raise ValueError(f"calibration method must be one of {METHODS}, got {method!r}")
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    if flat.size == 0:
        raise ValueError("calibration data is empty")
    if not np.all(np.isfinite(flat)):
        raise ValueError("calibration data contains NaN or inf")
    if method == "percentile":
        low, high = np.percentile(flat, [100 - PERCENTILE, PERCENTILE])
        return float(low), float(high)
    return float(flat.min()), float(flat.max())
