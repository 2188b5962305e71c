"""The in-memory form of a quantized network: what a .mnq container holds."""

from dataclasses import dataclass, field

import numpy as np

from micronn.packing import packed_size

ACTIVATION_CODES = {"none": 0, "relu": 1, "relu6": 2}
WEIGHT_LIMITS = {8: 127, 4: 7, 2: 1}
SMALL_INT_LIMIT = 2**30


@dataclass(frozen=True)
class TensorSpec:
    """Shape and affine parameters of the network's input or output."""

    shape: tuple
    scale: float
    zero_point: int
    dtype: str = "int8"

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


@dataclass
class FullyConnected:
    """int8 FULLY_CONNECTED with its integer plan (see docs/format.md)."""

    weights: np.ndarray  # int8 codes [out, in], unpacked
    bias: np.ndarray  # int32 [out], input zero point already folded in
    multiplier: np.ndarray  # int32 [1] or [out]
    shift: np.ndarray  # int32, same size as multiplier
    input_zero_point: int
    output_zero_point: int
    act_min: int
    act_max: int
    activation: str = "none"
    weight_bits: int = 8
    op: str = field(default="FULLY_CONNECTED", init=False)

    @property
    def in_features(self) -> int:
        return int(self.weights.shape[1])

    @property
    def out_features(self) -> int:
        return int(self.weights.shape[0])

    @property
    def per_channel(self) -> bool:
        return self.multiplier.size > 1

    @property
    def weight_bytes(self) -> int:
        return packed_size(self.weights.size, self.weight_bits)

    @property
    def parameter_bytes(self) -> int:
        """Bytes of all tensors: weights, bias, multipliers and shifts."""
        return self.weight_bytes + 4 * self.out_features + 8 * self.multiplier.size

    def accumulator_bounds(self) -> np.ndarray:
        """Worst-case |acc * 2**left| per output channel, as docs/format.md defines it."""
        dot = self.in_features * 128 * WEIGHT_LIMITS[self.weight_bits]
        left = np.maximum(np.asarray(self.shift, np.int64), 0)
        bound = np.abs(self.bias.astype(np.int64)) + dot
        return bound << np.broadcast_to(left, bound.shape)


@dataclass
class Model:
    input: TensorSpec
    output: TensorSpec
    layers: list

    @property
    def activation_sizes(self) -> list:
        return [self.input.size] + [layer.out_features for layer in self.layers]
