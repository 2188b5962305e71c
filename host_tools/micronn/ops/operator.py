"""What one operator is to micronn: its container record and the functions that serve it.

Every module of this package that defines an operator ends with `OPERATORS = (Operator(...),)`;
micronn.ops builds the registry from those tuples, and everything else (the container reader and
writer, the rules, the reference, the memory planner, the device tables) reads the registry.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

CLAMP = ("act_min", "act_max")
# weights, bias, multiplier, shift: the tensors of an operator that requantizes an accumulator
REQUANT_TENSORS = (
    ("weights", "weights"),
    ("bias", "int32"),
    ("multiplier", "int32"),
    ("shift", "int32"),
)


def _no_bound(layer) -> np.ndarray:
    return np.zeros(1, np.int64)


@dataclass(frozen=True)
class Operator:
    """name and code: the container's; params: int32 parameter names in container order;
    tensors: (name, kind) in container order, kind "weights" (int8/int4/int2), "int32" or
    "int8"; inputs: how many activations it reads.

    check(where, layer, in_shapes, out_shape) raises ContainerError (ops.checks) when the layer
    breaks a rule of docs/format.md; evaluate(layer, inputs, out_shape) is the numpy reference on
    int8 arrays [batch, *shape]; output_shape(layer) is the shape a chain model gives its output;
    accumulator_bound(layer) is the worst |intermediate| per output channel that must stay below
    2^30 on a board; weight_shape(params) is the weights' array shape; family names the device
    kernel modules that run it (python_<family>, viper_<family>, ulab_<family>)."""

    name: str
    code: int
    params: tuple
    check: Callable
    evaluate: Callable
    output_shape: Callable
    family: str
    tensors: tuple = ()
    inputs: int = 1
    accumulator_bound: Callable = _no_bound
    weight_shape: Callable | None = None

    @property
    def requantizes(self) -> bool:
        return self.tensors == REQUANT_TENSORS
