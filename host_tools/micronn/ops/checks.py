"""The shared pieces of the operators' container rules (docs/format.md, "Operators")."""

import numpy as np

from micronn.model import SMALL_INT_LIMIT, WEIGHT_LIMITS

__all__ = ["SMALL_INT_LIMIT", "WEIGHT_LIMITS", "ContainerError", "require", "size"]


class ContainerError(ValueError):
    """A .mnq file or Model that breaks the format rules (docs/format.md)."""


def require(condition, message) -> None:
    if not condition:
        raise ContainerError(message)


def size(shape) -> int:
    return int(np.prod(shape))


def check_multiplier(where, multiplier, shift) -> None:
    m = np.asarray(multiplier, np.int64)
    require(
        not np.any((m != 0) & ((m < 2**30) | (m >= 2**31))),
        f"{where}: multipliers must be 0 or in [2^30, 2^31)",
    )
    s = np.asarray(shift, np.int64)
    require(not np.any((s < -31) | (s > 30)), f"{where}: shifts must be in [-31, 30]")


def check_requantization(where, layer, channels: int) -> None:
    """weights / bias / multiplier / shift of an accumulating layer, and its 31-bit bound."""
    require(layer.weight_bits in WEIGHT_LIMITS, f"{where}: weight bits must be 8, 4 or 2")
    weights = np.asarray(layer.weights)
    shape = layer.spec.weight_shape(layer.params)
    require(weights.shape == shape, f"{where}: weights must have shape {shape}")
    limit = WEIGHT_LIMITS[layer.weight_bits]
    require(
        np.abs(weights.astype(np.int64)).max() <= limit,
        f"{where}: int{layer.weight_bits} weights must be in ±{limit}",
    )
    require(layer.bias.shape == (channels,), f"{where}: bias must have {channels} entries")
    count = layer.multiplier.size
    require(
        count in (1, channels) and layer.shift.size == count,
        f"{where}: multiplier/shift need 1 or {channels} entries",
    )
    check_multiplier(where, layer.multiplier, layer.shift)
    worst = int(layer.accumulator_bounds().max())
    require(
        worst < SMALL_INT_LIMIT,
        f"{where}: the accumulator can reach {worst} (>= 2^30), beyond the boards' 31-bit "
        "integers; use fewer inputs per output, smaller biases or a wider output range",
    )


def requantization_bound(layer, dot_reach: int) -> np.ndarray:
    """Worst |acc * 2**left| per output channel: |bias| + the dot product's reach, shifted."""
    left = np.maximum(np.asarray(layer.tensors["shift"], np.int64), 0)
    bound = np.abs(layer.tensors["bias"].astype(np.int64)) + dot_reach
    return bound << np.broadcast_to(left, bound.shape)


def check_window(where, p, kernel_h, kernel_w, dilation_h=1, dilation_w=1) -> None:
    for key in ("in_height", "in_width", "out_height", "out_width"):
        require(p[key] >= 1, f"{where}: {key} must be >= 1")
    for key in ("stride_height", "stride_width"):
        require(p[key] >= 1, f"{where}: {key} must be >= 1")
    require(kernel_h >= 1 and kernel_w >= 1, f"{where}: the window must be at least 1x1")
    require(dilation_h >= 1 and dilation_w >= 1, f"{where}: dilation must be >= 1")
    require(
        0 <= p["pad_top"] < (kernel_h - 1) * dilation_h + 1
        and 0 <= p["pad_left"] < (kernel_w - 1) * dilation_w + 1,
        f"{where}: padding must be smaller than the window",
    )


def check_spatial_io(where, in_shapes, out_shape, in_size, out_size) -> None:
    """Activations are flat in the arena and reshapes are folded away at import, so an image
    layer only needs its input and output tensors to have the right number of elements."""
    require(
        size(in_shapes[0]) == in_size,
        f"{where}: expects {in_size} input values, its input tensor {in_shapes[0]} has "
        f"{size(in_shapes[0])}",
    )
    require(
        size(out_shape) == out_size,
        f"{where}: writes {out_size} values, its output tensor {out_shape} has {size(out_shape)}",
    )
