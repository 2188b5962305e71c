"""The in-memory form of a quantized network: what a .mnq container holds.

A Model is a graph of int8 activation tensors and layers. Each Layer is one operator with its
integer plan: int32 parameters and tensors (weights, biases, multipliers, tables). The
operator registry micronn.ops.OPERATORS names every parameter and tensor, in container order.
"""

from dataclasses import dataclass, field

import numpy as np

from micronn.packing import packed_size

ACTIVATION_CODES = {"none": 0, "relu": 1, "relu6": 2}
WEIGHT_LIMITS = {8: 127, 4: 7, 2: 1}
SMALL_INT_LIMIT = 2**30  # a board's small ints hold |x| < 2^30
NO_TENSOR = 0xFFFF


def __getattr__(name):
    """OPS (name -> Operator) and OP_NAMES (code -> name), read from the registry."""
    if name in ("OPS", "OP_NAMES"):
        from micronn.ops import BY_CODE, OPERATORS

        return OPERATORS if name == "OPS" else {code: op.name for code, op in BY_CODE.items()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class TensorSpec:
    """Shape and affine parameters of the network's input or output.

    source_dtype "uint8": the imported model's edge was uint8, with this scale and zero point
    + 128 (int8 code = uint8 code - 128, exactly). The container does not store it."""

    shape: tuple
    scale: float
    zero_point: int
    dtype: str = "int8"
    source_dtype: str | None = None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


@dataclass
class Layer:
    """One operator: its int32 params and tensors (see OPS), and the activations it links.

    Parameters and tensors read as attributes: layer.in_features, layer.weights, ...
    """

    op: str
    params: dict
    tensors: dict = field(default_factory=dict)
    inputs: tuple = (0,)
    output: int = 1
    activation: str = "none"
    weight_bits: int = 8

    def __getattr__(self, name):
        if name not in ("params", "tensors"):
            for group in (self.params, self.tensors):
                if name in group:
                    return group[name]
        raise AttributeError(name)

    @property
    def spec(self):
        """The operator (micronn.ops.operator.Operator) this layer runs."""
        from micronn.ops import OPERATORS

        return OPERATORS[self.op]

    @property
    def per_channel(self) -> bool:
        return "multiplier" in self.tensors and self.tensors["multiplier"].size > 1

    @property
    def weight_bytes(self) -> int:
        weights = self.tensors.get("weights")
        return 0 if weights is None else packed_size(weights.size, self.weight_bits)

    @property
    def parameter_bytes(self) -> int:
        """Bytes of all tensors as stored: weights packed, the rest at their width."""
        total = self.weight_bytes
        for name, kind in self.spec.tensors:
            if kind != "weights":
                total += self.tensors[name].size * (4 if kind == "int32" else 1)
        return total

    def accumulator_bounds(self) -> np.ndarray:
        """Worst-case |acc * 2**left| per output channel (docs/format.md, 31-bit bound)."""
        return self.spec.accumulator_bound(self)


def FullyConnected(  # noqa: N802 - reads like the class it used to be
    weights,
    bias,
    multiplier,
    shift,
    input_zero_point,
    output_zero_point,
    act_min,
    act_max,
    activation="none",
    weight_bits=8,
    inputs=(0,),
    output=1,
) -> Layer:
    """A FULLY_CONNECTED layer; `bias` has the input zero point folded in (docs/format.md)."""
    weights = np.asarray(weights, np.int8)
    return Layer(
        "FULLY_CONNECTED",
        {
            "in_features": int(weights.shape[1]),
            "out_features": int(weights.shape[0]),
            "input_zero_point": int(input_zero_point),
            "output_zero_point": int(output_zero_point),
            "act_min": int(act_min),
            "act_max": int(act_max),
        },
        {
            "weights": weights,
            "bias": np.asarray(bias, np.int32),
            "multiplier": np.asarray(multiplier, np.int32).reshape(-1),
            "shift": np.asarray(shift, np.int32).reshape(-1),
        },
        tuple(inputs),
        output,
        activation,
        weight_bits,
    )


def _edge_list(edges) -> list:
    return list(edges) if isinstance(edges, (list, tuple)) else [edges]


class Model:
    """The network: its edges, activation tensors and layers.

    inputs / outputs: TensorSpecs of the network's edges, in order; input_tensors /
    output_tensors: their activation tensor ids. `input` and `output` may be one TensorSpec or a
    list of them (likewise `input_tensor` / `output_tensor`: an id or a list of ids).
    model.input / model.output / model.input_tensor / model.output_tensor name the single edge
    of a one-input (one-output) model and raise ValueError when there are several.
    shapes: every activation tensor's shape, by id; None means a chain (tensor 0 is the input,
    tensor i + 1 is layer i's output).
    labels: None, or the class names of the last axis of output labels_output (micronn.labels)."""

    labels = None
    labels_output = 0
    bands = None  # or "auto": the container writer chooses a banded stage (micronn.bands); a Bands

    def __init__(self, input, output, layers, shapes=None, input_tensor=None, output_tensor=None):  # noqa: A002
        self.inputs = _edge_list(input)
        self.outputs = _edge_list(output)
        self.layers = layers
        self.shapes = shapes
        if shapes is None:
            self.shapes = [tuple(self.inputs[0].shape)]
            for index, layer in enumerate(self.layers):
                layer.inputs, layer.output = (index,), index + 1
                self.shapes.append(tuple(layer.spec.output_shape(layer)))
            if self.layers:
                self.shapes[-1] = tuple(self.outputs[0].shape)
        if input_tensor is None:
            input_tensor = list(range(len(self.inputs)))
        if output_tensor is None:
            output_tensor = len(self.shapes) - 1
        self.input_tensors = [int(t) for t in _edge_list(input_tensor)]
        self.output_tensors = [int(t) for t in _edge_list(output_tensor)]

    def __repr__(self):
        return (
            f"Model({len(self.inputs)} input(s), {len(self.outputs)} output(s), "
            f"{len(self.layers)} layers)"
        )

    def _single(self, edges, what):
        if len(edges) != 1:
            raise ValueError(
                f"the model has {len(edges)} {what}s; use model.{what}s (a list) instead of "
                f"model.{what}"
            )
        return edges[0]

    @property
    def input(self) -> TensorSpec:
        return self._single(self.inputs, "input")

    @property
    def output(self) -> TensorSpec:
        return self._single(self.outputs, "output")

    @property
    def input_tensor(self) -> int:
        return self._single(self.input_tensors, "input")

    @property
    def output_tensor(self) -> int:
        return self._single(self.output_tensors, "output")

    @property
    def activation_sizes(self) -> list:
        return [int(np.prod(shape)) for shape in self.shapes]
