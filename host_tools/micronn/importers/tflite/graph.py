"""Turn a read .tflite graph into a micronn Model: fold plumbing, find the edges, build layers.

Operator builders live in the modules `ops_<family>.py` of this package and register with
`@register("OP_NAME")`; see context.py for the builder API.
"""

import importlib
import pkgutil

import numpy as np

from micronn.container_rules import MAX_EDGES, ContainerError, validate
from micronn.importers.tflite.context import BuildContext, describe
from micronn.importers.tflite.plumbing import (
    SHAPE_OPS,
    VIEW_OPS,
    evaluate_shape_op,
    view_problem,
)
from micronn.importers.tflite.reader import NO_INPUT
from micronn.importers.tflite.uint8_edges import refusal, shift_problem
from micronn.model import Model, TensorSpec
from micronn.ops.requantize import prepare_requantize

BUILDERS = {}
EDGE_OPS = ("QUANTIZE", "DEQUANTIZE")

FLOAT_ADVICE = (
    "this importer takes int8 .tflite models only. Convert with full-integer quantization "
    "(converter.optimizations = [tf.lite.Optimize.DEFAULT], a representative_dataset, "
    "target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]), or give micronn convert "
    "the float model (.tflite, .keras, .onnx, .npz) with --calibration"
)
DILATION_ADVICE = (
    "the converter writes a dilated convolution this way when the batch size is dynamic, and "
    "TFLM gets it wrong; re-export with a fixed batch size of 1 "
    "(e.g. keras.Input(shape=..., batch_size=1)) to get a dilated CONV_2D"
)
UNSUPPORTED_ADVICE = {
    "SPACE_TO_BATCH_ND": DILATION_ADVICE,
    "BATCH_TO_SPACE_ND": DILATION_ADVICE,
    "RELU": "fuse the activation into the Conv2D/Dense/Add before it (activation='relu')",
    "RELU6": "fuse the activation into the Conv2D/Dense/Add before it (activation='relu6')",
}


def register(op_name: str):
    """Decorator: `@register("CONV_2D") def build(ctx, op) -> Layer | list[Layer]`."""

    def decorate(builder):
        if op_name in BUILDERS:
            raise ValueError(f"a builder for {op_name} is already registered")
        BUILDERS[op_name] = builder
        return builder

    return decorate


def load_builders() -> None:
    """Import every ops_<family> module of this package, so their builders register."""
    package = importlib.import_module(__package__)
    for module in pkgutil.iter_modules(package.__path__):
        if module.name.startswith("ops_"):
            importlib.import_module(f"{__package__}.{module.name}")


def supported_operators() -> set:
    """TFLite operator names the importer handles (builders, folded plumbing, edges)."""
    load_builders()
    return set(BUILDERS) | set(SHAPE_OPS) | set(VIEW_OPS) | set(EDGE_OPS)


def import_graph(graph, weight_bits: int = 8) -> Model:
    """The quantized Model of a reader.TfliteGraph; ValueError naming anything unsupported."""
    load_builders()
    _check_edge_counts(graph)
    _check_integer_only(graph)
    ctx = BuildContext(graph, weight_bits)
    edges_in, edges_out, skipped, sources = _edges(graph)
    for edge_in in edges_in:
        ctx.new_activation(edge_in)
    values = ctx.static
    layers = []
    for op in graph.operators:
        if op.index in skipped:
            continue
        if op.name in SHAPE_OPS and (value := _static_value(ctx, op, values)) is not None:
            values[op.outputs[0]] = value
        elif op.name in VIEW_OPS:
            _fold_view(ctx, op, values)
        elif op.name == "QUANTIZE":
            layers.extend(_fold_requantize(ctx, op))
        elif op.name in BUILDERS:
            built = BUILDERS[op.name](ctx, op)
            layers.extend(built if isinstance(built, list) else [built])
        else:
            raise _unsupported(graph, op)
    return _model(ctx, graph, layers, (edges_in, edges_out), sources)


def _static_value(ctx, op, values):
    try:
        return evaluate_shape_op(op, values, ctx.graph.tensors)
    except (IndexError, ValueError, TypeError) as error:
        raise ctx.error(op, f"cannot be computed from the static shapes ({error})") from None


def _unsupported(graph, op) -> ValueError:
    advice = UNSUPPORTED_ADVICE.get(op.name)
    if advice is None:
        names = ", ".join(sorted(BUILDERS))
        advice = (
            f"micronn supports {names} (plus reshapes, and QUANTIZE/DEQUANTIZE at the "
            "edges); rebuild the model from those layers"
        )
    if op.name == "DEQUANTIZE":
        advice = "float tensors inside the model are not supported; quantize it fully to int8"
    return ValueError(f"{graph.name}: {describe(graph, op)} is not supported: {advice}")


def _check_edge_counts(graph) -> None:
    for what, edges in (("inputs", graph.inputs), ("outputs", graph.outputs)):
        if not 1 <= len(edges) <= MAX_EDGES:
            raise ValueError(
                f"{graph.name}: the model has {len(edges)} {what}; micronn imports models "
                f"with 1 to {MAX_EDGES} inputs and outputs"
            )
        if len(set(edges)) != len(edges):
            raise ValueError(
                f"{graph.name}: one tensor is listed twice among the model's {what}; "
                "re-export the model with distinct tensors"
            )


def _consumers(graph, index) -> list:
    return [op for op in graph.operators if index in op.inputs]


def _producer(graph, index):
    return next((op for op in graph.operators if index in op.outputs), None)


def _check_integer_only(graph) -> None:
    input_indices, output_indices = set(graph.inputs), set(graph.outputs)
    for op in graph.operators:
        if op.name in (*VIEW_OPS, *EDGE_OPS) and op.input(0) == NO_INPUT:
            raise ValueError(f"{graph.name}: {describe(graph, op)} has no input")
        edge_quantize = op.name == "QUANTIZE" and op.input(0) in input_indices
        for position, index in enumerate(op.inputs):
            tensor = graph.tensors[index] if index != NO_INPUT else None
            if tensor is None or tensor.data is not None or tensor.dtype in ("INT8", "INT32"):
                continue
            if edge_quantize and position == 0 and tensor.dtype in ("FLOAT32", "UINT8"):
                continue
            raise _type_error(graph, op, tensor, "input")
        for index in op.outputs:
            tensor = graph.tensors[index]
            allowed = ("INT8",)
            if index in output_indices:
                allowed = {"DEQUANTIZE": ("FLOAT32",), "QUANTIZE": ("INT8", "UINT8")}.get(
                    op.name, allowed
                )
            if op.name in (*SHAPE_OPS, *VIEW_OPS):
                allowed = ("INT8", "INT32", "INT64")
            if tensor.dtype not in allowed:
                raise _type_error(graph, op, tensor, "output")


def _type_error(graph, op, tensor, role) -> ValueError:
    where = f"tensor '{tensor.name}' ({role} of {describe(graph, op)})"
    if tensor.dtype == "FLOAT32":
        return ValueError(f"{graph.name}: {where} is float32: {FLOAT_ADVICE}")
    return ValueError(
        f"{graph.name}: {where} is {tensor.dtype}; micronn supports int8 activations only "
        "(convert with inference_input_type/inference_output_type tf.int8 or tf.float32, "
        "not 16x8 or uint8 quantization)"
    )


def _edges(graph) -> tuple:
    """(input tensors, output tensors, operator indices absorbed into the edges, source dtypes
    of the inputs and of the outputs: "uint8" where a QUANTIZE shifting by 128 was absorbed,
    else None). Each edge is handled on its own (uint8_edges.py)."""
    skipped = set()
    inputs, outputs, sources_in, sources_out = [], [], [], []
    for index in graph.inputs:
        tensor, source = _input_edge(graph, index, skipped, len(graph.inputs))
        inputs.append(tensor)
        sources_in.append(source)
    for index in graph.outputs:
        tensor, source = _output_edge(graph, index, skipped, len(graph.outputs))
        outputs.append(tensor)
        sources_out.append(source)
    return inputs, outputs, skipped, (sources_in, sources_out)


def _which(kind, graph, index, count) -> str:
    return (
        f"{kind} '{graph.tensors[index].name}'"
        if count == 1
        else (
            f"{kind} {list(getattr(graph, kind + 's')).index(index)} '{graph.tensors[index].name}'"
        )
    )


def _input_edge(graph, edge_in, skipped, count) -> tuple:
    source = None
    if graph.tensors[edge_in].dtype == "UINT8":
        consumers = _consumers(graph, edge_in)
        if len(consumers) != 1 or consumers[0].name != "QUANTIZE":
            names = ", ".join(op.name for op in consumers) or "nothing"
            raise ValueError(
                f"{graph.name}: the uint8 {_which('input', graph, edge_in, count)} feeds "
                f"{names}, not one QUANTIZE to int8; re-export with inference_input_type tf.int8"
            )
        if problem := shift_problem(graph, consumers[0]):
            raise refusal(graph, consumers[0], problem, "input")
        edge_in, source = consumers[0].outputs[0], "uint8"
        skipped.add(consumers[0].index)
    if graph.tensors[edge_in].dtype == "FLOAT32":
        consumers = _consumers(graph, edge_in)
        if len(consumers) != 1 or consumers[0].name != "QUANTIZE":
            names = ", ".join(op.name for op in consumers) or "nothing"
            raise ValueError(
                f"{graph.name}: the float32 {_which('input', graph, edge_in, count)} feeds "
                f"{names}, not one QUANTIZE: {FLOAT_ADVICE}"
            )
        edge_in = consumers[0].outputs[0]
        skipped.add(consumers[0].index)
    return edge_in, source


def _output_edge(graph, edge_out, skipped, count) -> tuple:
    source = None
    producer = _producer(graph, edge_out)
    if graph.tensors[edge_out].dtype == "UINT8" and producer is not None:
        if problem := shift_problem(graph, producer):
            raise refusal(graph, producer, problem, "output")
        edge_out, source = producer.inputs[0], "uint8"
        skipped.add(producer.index)
    if graph.tensors[edge_out].dtype == "FLOAT32":
        producer = _producer(graph, edge_out)
        if producer is None or producer.name != "DEQUANTIZE":
            raise ValueError(
                f"{graph.name}: the float32 {_which('output', graph, edge_out, count)} is not "
                f"made by a DEQUANTIZE: {FLOAT_ADVICE}"
            )
        edge_out = producer.inputs[0]
        skipped.add(producer.index)
    return edge_out, source


def _same_quantization(a, b) -> bool:
    return (
        a.scale.size == b.scale.size == 1
        and a.scale[0] == b.scale[0]
        and a.zero_point[0] == b.zero_point[0]
    )


def _fold_view(ctx, op, values) -> None:
    source, target = ctx.tensor(op.inputs[0]), ctx.tensor(op.outputs[0])
    if source.index in values:
        values[target.index] = np.reshape(values[source.index], target.shape)
        return
    if source.dtype != "INT8":
        raise ctx.error(
            op, f"reshapes a {source.dtype} tensor computed at run time; {FLOAT_ADVICE}"
        )
    problem = view_problem(op, source.shape, target.shape, values)
    if problem is None and not _same_quantization(source, target):
        problem = "changes the quantization parameters"
    if problem:
        raise ctx.error(op, f"is not a pure reshape: it {problem}; re-export the model")
    ctx.alias(target.index, of=source.index)


def _fold_requantize(ctx, op) -> list:
    """An int8 QUANTIZE inside the model: folded away when it changes nothing, else a
    REQUANTIZE layer (TFLM's Requantize as a lookup table)."""
    source, target = op.inputs[0], op.outputs[0]
    quantizations = [ctx.quantization(source), ctx.quantization(target)]
    if quantizations[0] == quantizations[1]:
        ctx.alias(target, of=source)
        return []
    try:
        layer = prepare_requantize(int(np.prod(ctx.tensor(source).shape)), *quantizations)
    except ValueError as error:
        raise ctx.error(op, str(error)) from None
    return [ctx.connect(layer, (source,), target)]


def _model(ctx, graph, layers, edges, sources) -> Model:
    if not layers:
        raise ValueError(
            f"{graph.name}: the model only reshapes its input; it has no operator that "
            "computes anything, so there is nothing to convert"
        )
    specs = ([], [])
    for side, (indices, side_sources) in enumerate(zip(edges, sources, strict=True)):
        for index, source in zip(indices, side_sources, strict=True):
            scale, zero_point = ctx.quantization(index)
            shape = ctx.shapes[ctx.activation_id(index)]
            specs[side].append(TensorSpec(shape, scale, zero_point, source_dtype=source))
    model = Model(
        specs[0],
        specs[1],
        layers,
        shapes=ctx.shapes,
        input_tensor=[ctx.activation_id(index) for index in edges[0]],
        output_tensor=[ctx.activation_id(index) for index in edges[1]],
    )
    try:
        validate(model)
    except ContainerError as error:
        raise ValueError(f"{graph.name}: the imported model breaks a rule: {error}") from None
    return model
