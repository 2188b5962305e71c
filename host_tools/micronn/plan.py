"""Post-training quantization: a FloatGraph plus calibration data becomes an integer Model.

Activations: asymmetric int8 per tensor, from calibrated (or stored) ranges; LOGISTIC and
SOFTMAX outputs are fixed at (1/256, -128) and TANH at (1/128, 0) as TFLite requires; pools,
reshapes and the data movers (transpose, pad, slice) keep their input's parameters, and the
inputs of a concatenation take its output's (TFLM's int8 kernel copies codes). Weights:
symmetric int8, int4 or int2, per output channel unless per_tensor. Each layer's integer plan
comes from its op family's prepare helper.
"""

from dataclasses import replace

import numpy as np

from micronn import tflite_int8
from micronn.calibration import calibrate, calibration_values
from micronn.container import validate
from micronn.graph import MOVERS, FloatGraph
from micronn.graph_builder import rescaling_layer
from micronn.model import Model, TensorSpec
from micronn.plan_layers import LayerIO, quantize_node

WEIGHT_BITS = {"int8": 8, "int4": 4, "int2": 2}
FIXED_OUTPUT_PARAMS = {
    "logistic": (1 / 256, -128),
    "softmax": (1 / 256, -128),
    "tanh": (1 / 128, 0),
}
SHARES_INPUT_PARAMS = (
    "max_pool",
    "avg_pool",
    "reshape",
    "resize",
    "reduce_max",
    "transpose",
    "pad",
    "slice",
)
# ops whose inputs and output share one (scale, zero point): TFLM compares their raw codes
SAME_PARAMS = ("maximum", "minimum")
# ops whose integer form fixes the layout of a tensor they read or write (dense sees only sizes;
# the data movers walk their own float shapes, so they too need only the sizes to agree)
FREE_LAYOUT = ("dense", "reshape", "rescaling", *MOVERS)
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
    if any(node.op == "concat" for node in graph.nodes):
        _unify_concatenations(graph, params)
    return params


def _unify_concatenations(graph: FloatGraph, params: dict) -> None:
    """TFLM's int8 CONCATENATION copies codes and requires every input to have the output's
    parameters, as TFLite's converter arranges: each input takes the output's (calibrated over
    all of them), back through the nodes that share their input's parameters."""
    producers = {node.output: node for node in graph.nodes}
    for node in reversed(graph.nodes):
        if node.op != "concat":
            continue
        for tensor in node.inputs:
            while True:
                params[tensor] = params[node.output]
                producer = producers.get(tensor)
                if producer is None or producer.op not in SHARES_INPUT_PARAMS:
                    break
                tensor = producer.inputs[0]
    for node in graph.nodes:  # the shared parameters follow their sources again
        if node.op in SHARES_INPUT_PARAMS:
            params[node.output] = params[node.inputs[0]]
    for node in graph.nodes:
        producer_fixed = [
            producers[t].label
            for t in node.inputs
            if t in producers and producers[t].op in FIXED_OUTPUT_PARAMS
        ]
        if node.op == "concat" and (
            producer_fixed or any(params[t] != params[node.output] for t in node.inputs)
        ):
            why = (
                f"{producer_fixed[0]} has fixed int8 parameters"
                if producer_fixed
                else ("a tensor it reads also feeds another concatenation")
            )
            raise ValueError(
                f"{node.label}: its inputs must share the output's int8 parameters (TFLM copies "
                f"codes), but {why}; put a layer that requantizes (e.g. a 1x1 convolution) "
                "before it"
            )


def integer_tensors(graph: FloatGraph) -> tuple:
    """Fold reshapes away: a reshape's output is its input's bytes under another shape.

    Returns (ids, shapes): ids maps each float tensor to an integer tensor; shapes are the
    integer tensors' shapes, the one that the layers around each tensor need.
    """
    root = {graph.input: graph.input}
    for node in graph.nodes:
        moves_no_data = node.op in ("reshape", "rescaling")  # a rescaling left here is folded
        root[node.output] = root[node.inputs[0]] if moves_no_data else node.output
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


def _fold_input_rescaling(graph: FloatGraph, params: dict) -> FloatGraph:
    """A Keras Rescaling (x * scale + offset) that alone reads the input folds into the input's
    quantization: with its output's (s, z), the input's are (s / scale, z + round(offset / s)),
    so the codes the network reads are its output's codes (the offset moves by less than half a
    step). Where that zero point leaves int8, or the rescaling is the whole model, it becomes a
    layer (a 1x1 depthwise convolution or a diagonal dense layer)."""
    nodes = list(graph.nodes)
    for index, node in enumerate(nodes):
        if node.op != "rescaling":
            continue
        scale, zero_point = params[node.output]
        readers = [n for n in nodes if graph.input in n.inputs]
        shift = round(node.attrs["offset"] / scale)
        if (
            node.inputs[0] == graph.input
            and readers == [node]
            and node.output != graph.output
            and -128 <= zero_point + shift <= 127
        ):
            params[graph.input] = (
                float(np.float32(scale / node.attrs["scale"])),
                zero_point + shift,
            )
        else:
            nodes[index] = rescaling_layer(node, graph.shapes[node.inputs[0]])
    return replace(graph, nodes=nodes)


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
    graph = _fold_input_rescaling(graph, params)
    ids, shapes = integer_tensors(graph)
    layers = []
    for node in graph.nodes:
        if node.op in ("reshape", "rescaling"):
            continue
        own = node.op in MOVERS  # (1, W, C) and (W, C) are the same bytes to a mover
        io = LayerIO(
            [graph.shapes[t] if own else shapes[ids[t]] for t in node.inputs],
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
