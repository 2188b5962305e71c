"""Activation ranges from calibration data."""

import warnings

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


class CalibrationWarning(UserWarning):
    """The calibration data is usable but probably not what the user meant."""


def channels_first(shape: tuple) -> tuple:
    """PyTorch's layout of a channels-last sample shape: (C, H, W) for (H, W, C)."""
    return shape[-1:] + shape[:-1]


def channels_last(samples: np.ndarray, input_shape: tuple) -> np.ndarray:
    """A batch (N, *input_shape), a flat batch or one sample, as given; a batch in PyTorch's
    channels-first layout ((N, C, H, W), or (N, C, W) for a Conv1D model's (1, W, C))
    transposed to the model's channels-last one. A batch whose samples have the model's rank but
    neither layout is refused: reading it flat would scramble it."""
    squeezed = input_shape
    while len(squeezed) > 2 and squeezed[0] == 1:
        squeezed = squeezed[1:]
    for shape in dict.fromkeys((input_shape, squeezed)):
        if len(shape) < 2 or samples.ndim != len(shape) + 1:
            continue
        sample = tuple(samples.shape[1:])
        if sample == shape:
            return samples
        if sample == channels_first(shape):
            return np.moveaxis(samples, 1, -1)
        raise ValueError(
            f"calibration data of shape {samples.shape} is not a batch of the model's inputs: "
            f"give (N, {', '.join(map(str, shape))}) (or PyTorch's channels-first "
            f"(N, {', '.join(map(str, channels_first(shape)))}))"
        )
    return samples


def calibration_values(graph, calibration):
    """Every tensor's float values over the calibration inputs (None without calibration)."""
    if calibration is None:
        return None
    samples = np.asarray(calibration)
    if samples.dtype.kind not in "biuf":
        raise ValueError(f"calibration data holds {samples.dtype} values; give float inputs")
    if samples.size % graph.input_size or samples.size == 0:
        raise ValueError(
            f"calibration data of shape {samples.shape} does not hold whole inputs of shape "
            f"{graph.input_shape}"
        )
    samples = channels_last(samples, tuple(graph.input_shape))
    if samples.size == graph.input_size:
        warnings.warn(
            "calibration data holds one sample: the activation ranges fit that sample only; "
            "give a few hundred representative inputs",
            CalibrationWarning,
            stacklevel=2,
        )
    with np.errstate(over="ignore", invalid="ignore"):  # checked below, with the layer named
        samples = samples.astype(np.float32)
        if not np.all(np.isfinite(samples)):
            raise ValueError("calibration data contains NaN or inf (or values beyond float32)")
        values = graph.forward_all(samples)
    for node in graph.nodes:
        if not np.all(np.isfinite(values[node.output])):
            raise ValueError(
                f"{node.label}: the float model computes NaN or inf on the calibration data "
                "(its weights or the inputs are too large for float32); check the model"
            )
    return values


def calibrate(graph, values, needed, method: str = "minmax") -> dict:
    """(min, max) of each tensor id in `needed`: ranges stored in the graph, else observed in
    `values` (from calibration_values)."""
    ranges = {t: graph.ranges[t] for t in needed if t in graph.ranges}
    missing = sorted(set(needed) - set(ranges))
    if missing and values is None:
        raise ValueError(
            "this float model needs calibration data to choose activation ranges: pass "
            "--calibration X.npy (a few hundred representative inputs, float32, shaped like the "
            "model's input with a leading batch axis)"
        )
    for t in missing:
        ranges[t] = observed_range(values[t], method)
    return ranges
