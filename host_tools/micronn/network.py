"""A float network as importers produce it, before quantization."""

from dataclasses import dataclass, field

import numpy as np

from micronn.tflite_int8 import ACTIVATIONS


@dataclass
class DenseLayer:
    weight: np.ndarray  # float32 [out, in]
    bias: np.ndarray  # float32 [out]
    activation: str = "none"
    output_range: tuple | None = None  # known (min, max) of the output, if the source gives it

    def __post_init__(self):
        self.weight = np.asarray(self.weight, dtype=np.float32)
        self.bias = np.asarray(self.bias, dtype=np.float32)
        if self.weight.ndim != 2:
            raise ValueError(f"dense weight must be [out, in], got shape {self.weight.shape}")
        if self.bias.shape != (self.weight.shape[0],):
            raise ValueError(
                f"dense bias must have {self.weight.shape[0]} entries, got {self.bias.shape}"
            )
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"activation {self.activation!r} is not supported; use one of {ACTIVATIONS}"
            )

    def forward(self, x: np.ndarray) -> np.ndarray:
        y = x @ self.weight.T + self.bias
        if self.activation in ("relu", "relu6"):
            y = np.maximum(y, 0)
        if self.activation == "relu6":
            y = np.minimum(y, 6)
        return y.astype(np.float32)


@dataclass
class FloatNetwork:
    input_shape: tuple
    layers: list = field(default_factory=list)
    input_range: tuple | None = None

    @property
    def input_size(self) -> int:
        return int(np.prod(self.input_shape))

    def forward_all(self, x: np.ndarray) -> list:
        """Outputs of every stage: [input, layer 0 output, layer 1 output, ...]."""
        flat = np.asarray(x, dtype=np.float32).reshape(-1, self.input_size)
        outputs = [flat]
        for layer in self.layers:
            outputs.append(layer.forward(outputs[-1]))
        return outputs

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.forward_all(x)[-1]
