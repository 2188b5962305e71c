"""Post-training quantization: a FloatGraph plus calibration data becomes an integer Model.

Activations: asymmetric int8 per tensor, from calibrated (or stored) ranges; LOGISTIC and
SOFTMAX outputs are fixed at (1/256, -128) and TANH at (1/128, 0) as TFLite requires; pools
and reshapes keep their input's parameters. Weights: symmetric int8, int4 or int2, per output
channel unless per_tensor. Each layer's integer plan comes from its op family's prepare helper.
"""

import numpy as np

from micronn import tflite_int8
from micronn.calibration import calibrate, calibration_values
from micronn.container import validate
from micronn.graph import FloatGraph
from micronn.model import Model, TensorSpec
from micronn.plan_layers import LayerIO, quantize_node

WEIGHT_BITS = {"int8": 8, "int4": 4, "int2": 2}
FIXED_OUTPUT_PARAMS = {
    "logistic": (1 / 256, -128),
    "softmax": (1 / 256, -128),
    "tanh": (1 / 128, 0),
}
SHARES_INPUT_PARAMS = ("max_pool", "avg_pool", "reshape", "resize", "reduce_max")
# ops whose inputs and output share one (scale, zero point): TFLM compares their raw codes
SAME_PARAMS = ("maximum", "minimum")
# ops whose integer form fixes the layout of a tensor they read or write (dense sees only sizes)
FREE_LAYOUT = ("dense", "reshape")
MIN_RANGE_WIDTH = 1e-6


def activation_params(value_range: tuple) -> tuple:
    low, high = value_range
    if high - low < MIN_RANGE_WIDTH:
        high = low + MIN_RANGE_WIDTH
    return tflite_int8.choose_quantization_params(low, high)


def calibrated_tensors(graph: FloatGraph) -> list:
    """Tensors whose parameters come from a range: the input and most layer outputs."""
    return [graph.input] + [
        node.output
        for node in graph.nodes
        if node.op not in FIXED_OUTPUT_PARAMS and node.op not in SHARES_INPUT_PARAMS
    ]


def _shared_groups(graph: FloatGraph) -> dict:
    """tensor id -> the root of the tensors that must share its parameters (a pool or reshape
    and its input; a maximum / minimum, its inputs and output)."""
    parent = {}

    def root(t):
        while parent.get(t, t) != t:
            t = parent[t]
        return t

    for node in graph.nodes:
        if node.op in SHARES_INPUT_PARAMS or node.op in SAME_PARAMS:
            for t in node.inputs[1:] + (node.output,):
                parent[root(t)] = root(node.inputs[0])
    tensors = [graph.input] + [node.output for node in graph.nodes]
    return {t: root(t) for t in tensors}


def tensor_params(graph: FloatGraph, values=None, method: str = "minmax") -> dict:
    """(scale, zero_point) of every tensor id; values: calibration_values(graph, x) or None.

    Tensors that must share parameters (_shared_groups) take the union of their ranges, or the
    fixed output parameters of a logistic / tanh / softmax among them."""
    ranges = calibrate(graph, values, calibrated_tensors(graph), method)
    groups = _shared_groups(graph)
    fixed = {}
    for node in graph.nodes:
        if node.op in FIXED_OUTPUT_PARAMS:
            scale, zero_point = FIXED_OUTPUT_PARAMS[node.op]
            group = groups[node.output]
            params = (float(np.float32(scale)), zero_point)
            if fixed.setdefault(group, (node, params))[1] != params:
                raise ValueError(
                    f"{fixed[group][0].label} and {node.label} have fixed output parameters "
                    f"that differ, but a maximum / minimum needs them equal"
                )
    spans = {}
    for t, (low, high) in ranges.items():
        group = groups.get(t, t)
        old = spans.get(group, (low, high))
        spans[group] = (min(old[0], low), max(old[1], high))
    params = {}
    for t, group in groups.items():
        if group in fixed:
            params[t] = fixed[group][1]
        elif group in spans:
            params[t] = activation_params(spans[group])
    return params


def integer_tensors(graph: FloatGraph) -> tuple:
    """Fold reshapes away: a reshape's output is its input's bytes under another shape.

    Returns (ids, shapes): ids maps each float tensor to an integer tensor; shapes are the
    integer tensors' shapes, the one that the layers around each tensor need.
    """
    root = {graph.input: graph.input}
    for node in graph.nodes:
        root[node.output] = root[node.inputs[0]] if node.op == "reshape" else node.output
    order = list(dict.fromkeys(root[t] for t in [graph.input] + [n.output for n in graph.nodes]))
    ids = {t: order.index(r) for t, r in root.items()}
    demands = {i: {} for i in range(len(order))}
    for node in graph.nodes:
        if node.op in FREE_LAYOUT:
            continue
        demands[ids[node.output]][graph.shapes[node.output]] = node
        for t in node.inputs:
            demands[ids[t]].setdefault(graph.shapes[t], node)
    shapes = []
    for i, group_root in enumerate(order):
        wanted = demands[i]
        if len(wanted) > 1:
            names = " and ".join(node.label for node in wanted.values())
            raise ValueError(
                f"{names} need one tensor in different layouts {list(wanted)}; micronn folds "
                "reshapes only where the layers around them agree on the layout (a flatten "
                "before a dense layer is fine)"
            )
        if wanted:
            shapes.append(next(iter(wanted)))
        elif ids[graph.output] == i:
            shapes.append(graph.shapes[graph.output])
        else:
            shapes.append(graph.shapes[group_root])
    return ids, shapes


def quantize_network(
    graph: FloatGraph,
    calibration=None,
    weights: str = "int8",
    per_tensor: bool = False,
    method: str = "minmax",
) -> Model:
    bits = WEIGHT_BITS.get(weights)
    if bits is None:
        raise ValueError(f"--weights must be int8, int4 or int2, got {weights!r}")
    values = calibration_values(graph, calibration)
    params = tensor_params(graph, values, method)
    ids, shapes = integer_tensors(graph)
    layers = []
    for node in graph.nodes:
        if node.op == "reshape":
            continue
        io = LayerIO(
            [shapes[ids[t]] for t in node.inputs],
            [params[t] for t in node.inputs],
            params[node.output],
            bits,
            not per_tensor,
            None if values is None or not node.inputs else values[node.inputs[0]],
        )
        layer = quantize_node(node, io)
        layer.inputs = tuple(ids[t] for t in node.inputs)
        layer.output = ids[node.output]
        layers.append(layer)
    if not layers:
        raise ValueError("the model only reshapes its input; there is nothing to quantize")
    input_id, output_id = ids[graph.input], ids[graph.output]
    model = Model(
        TensorSpec(tuple(shapes[input_id]), *params[graph.input]),
        TensorSpec(tuple(shapes[output_id]), *params[graph.output]),
        layers,
        shapes=[tuple(s) for s in shapes],
        input_tensor=input_id,
        output_tensor=output_id,
    )
    validate(model)
    return model
