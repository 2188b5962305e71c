"""The rules a Model must satisfy to be written to, or read from, a .mnq container.

The graph rules are here; each operator's own rules are its module's `check` (micronn.ops).
"""

import numpy as np

from micronn.model import ACTIVATION_CODES, Layer, Model
from micronn.ops import OPERATORS
from micronn.ops.checks import ContainerError, require

__all__ = ["MAX_EDGES", "ContainerError", "validate", "weight_shape"]

MAX_EDGES = 255  # inputs, and outputs, of one model (docs/format.md, "Edges")


def weight_shape(op: str, p: dict) -> tuple:
    return OPERATORS[op].weight_shape(p)


def validate(model: Model) -> None:
    """Raise ContainerError unless the model satisfies every rule of docs/format.md."""
    require(model.layers, "a model needs at least one layer")
    shapes = model.shapes
    require(2 <= len(shapes) < 0xFFFF, "a model needs 2 to 65534 activation tensors")
    for t, shape in enumerate(shapes):
        ok = 1 <= len(shape) <= 4 and all(1 <= d <= 0xFFFF for d in shape)
        require(ok, f"activation tensor {t} shape {shape} needs 1-4 dims in 1..65535")
    require(
        len(model.inputs) == len(model.input_tensors)
        and len(model.outputs) == len(model.output_tensors),
        "every input and output needs one TensorSpec and one tensor id",
    )
    require(
        1 <= len(model.inputs) <= MAX_EDGES and 1 <= len(model.outputs) <= MAX_EDGES,
        f"a model needs 1 to {MAX_EDGES} inputs and 1 to {MAX_EDGES} outputs",
    )
    edges = [("input", model.inputs, model.input_tensors)]
    edges.append(("output", model.outputs, model.output_tensors))
    for kind, specs, tensors in edges:
        require(len(set(tensors)) == len(tensors), f"two {kind}s name the same tensor")
        for k, (spec, tensor) in enumerate(zip(specs, tensors, strict=True)):
            name = kind if len(specs) == 1 else f"{kind} {k}"
            _check_edge(name, spec, tensor, shapes)
    produced = set(model.input_tensors)
    for index, layer in enumerate(model.layers):
        where = f"layer {index} ({layer.op})"
        for tensor in layer.inputs:
            require(tensor in produced, f"{where}: reads tensor {tensor} before it is written")
        require(
            0 <= layer.output < len(shapes) and layer.output not in produced,
            f"{where}: output tensor {layer.output} is invalid or written twice",
        )
        produced.add(layer.output)
        in_shapes = [tuple(shapes[t]) for t in layer.inputs]
        _check_layer(where, layer, in_shapes, tuple(shapes[layer.output]))
    for k, tensor in enumerate(model.output_tensors):
        written = tensor in produced and tensor not in model.input_tensors
        require(written, f"output {k} (tensor {tensor}) is never written by a layer")
    require(len(produced) == len(shapes), "some activation tensors are never written")


def _check_edge(name, spec, tensor, shapes) -> None:
    require(0 <= tensor < len(shapes), f"{name} tensor id {tensor} does not exist")
    require(spec.dtype == "int8", f"{name} dtype must be int8, got {spec.dtype!r}")
    require(
        tuple(spec.shape) == tuple(shapes[tensor]),
        f"{name} shape {spec.shape} differs from tensor {tensor}'s {shapes[tensor]}",
    )
    require(
        np.isfinite(spec.scale) and spec.scale > 0,
        f"{name} scale must be finite and > 0, got {spec.scale}",
    )
    require(-128 <= spec.zero_point <= 127, f"{name} zero point is outside -128..127")


def _check_layer(where, layer: Layer, in_shapes, out_shape) -> None:
    require(layer.op in OPERATORS, f"{where}: unknown operator")
    spec = layer.spec
    require(set(layer.params) == set(spec.params), f"{where}: params must be {spec.params}")
    require(len(layer.inputs) == spec.inputs, f"{where}: takes {spec.inputs} input(s)")
    require(layer.activation in ACTIVATION_CODES, f"{where}: unknown activation")
    names = {name for name, _ in spec.tensors}
    require(set(layer.tensors) == names, f"{where}: tensors must be {sorted(names)}")
    p = layer.params
    for key in ("act_min", "act_max", "input_zero_point", "output_zero_point"):
        if key in p:
            require(-128 <= p[key] <= 127, f"{where}: {key} is outside -128..127")
    if "act_min" in p:
        require(p["act_min"] <= p["act_max"], f"{where}: act_min > act_max")
    spec.check(where, layer, in_shapes, out_shape)
