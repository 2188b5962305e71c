"""Describe a model for people: layer table and its activation and accumulator bytes."""

from micronn.arena import plan_arena
from micronn.bands import Bands
from micronn.boards import Board
from micronn.ops.unary import source_name

INT32_BYTES = 4


def activation_bytes(model) -> int:
    """The int8 arena planned on the host: every activation tensor, sharing bytes where their
    lifetimes allow, a banded stage's inner tensors one band each (the board allocates exactly
    this)."""
    return plan_arena(model, _stage(model))[1]


def _stage(model):
    """The model's banded stage, or None (also for bands "auto", which the writer resolves)."""
    return model.bands if isinstance(model.bands, Bands) else None


def bands_lines(model) -> list:
    """What running the model's first layers in bands of rows saves (micronn.bands)."""
    stage = _stage(model)
    if stage is None:
        return []
    return [
        f"layers {stage.first}-{stage.last} run in bands of {stage.rows} output rows: an "
        f"activation arena of {plan_arena(model, stage)[1]} B instead of "
        f"{plan_arena(model)[1]} B (--no-bands: every layer whole)"
    ]


def accumulator_bytes(model) -> int:
    return INT32_BYTES * max(model.shapes[layer.output][-1] for layer in model.layers)


def _shape_text(shape) -> str:
    return "x".join(str(d) for d in shape)


def _weights_text(layer) -> str:
    if "weights" not in layer.tensors:
        return "-"
    granularity = "per-channel" if layer.per_channel else "per-tensor"
    return f"int{layer.weight_bits} {granularity}"


def _op_text(layer) -> str:
    """The operator; a LOOKUP names the function its table holds (e.g. LOOKUP (HARD_SWISH))."""
    if layer.op == "LOOKUP":
        return f"LOOKUP ({source_name(layer.params['source'])})"
    return layer.op


def layer_rows(model) -> list:
    """Per layer: operator, fused activation, shapes in -> out, weights, weight bytes, all
    parameter bytes, and the activation bytes it touches (its inputs and its output)."""
    rows = []
    for index, layer in enumerate(model.layers):
        inputs = " + ".join(_shape_text(model.shapes[t]) for t in layer.inputs)
        touched = [*layer.inputs, layer.output]
        rows.append(
            (
                str(index),
                _op_text(layer),
                layer.activation,
                f"{inputs} -> {_shape_text(model.shapes[layer.output])}",
                _weights_text(layer),
                str(layer.weight_bytes),
                str(layer.parameter_bytes),
                str(sum(model.activation_sizes[t] for t in touched)),
            )
        )
    return rows


def format_table(header: tuple, rows: list) -> list:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    head = "  ".join(cell.ljust(width) for cell, width in zip(header, widths, strict=True))
    return [head.rstrip(), *(line.rstrip() for line in lines)]


def _edge_name(kind, edges, k) -> str:
    return kind if len(edges) == 1 else f"{kind} {k}"


def edge_notes(model) -> list:
    """What a user of a model imported from a uint8 .tflite edge must do with its codes."""
    notes = []
    for k, spec in enumerate(model.inputs):
        if spec.source_dtype == "uint8":
            notes.append(
                f"note: the .tflite {_edge_name('input', model.inputs, k)} is uint8; this model "
                "takes int8 codes: subtract 128 from each uint8 code "
                "(reference.quantize_input does it for a uint8 array)"
            )
    for k, spec in enumerate(model.outputs):
        if spec.source_dtype == "uint8":
            notes.append(
                f"note: the .tflite {_edge_name('output', model.outputs, k)} is uint8; this "
                "model gives int8 codes: add 128 to each to get the .tflite's uint8 codes"
            )
    return notes


def edge_lines(model) -> list:
    """One line per input and output: dtype, shape, scale and zero point."""
    lines = []
    for kind, edges in (("input", model.inputs), ("output", model.outputs)):
        for k, spec in enumerate(edges):
            lines.append(
                f"{_edge_name(kind, edges, k):<6} {spec.dtype} shape {tuple(spec.shape)} "
                f"scale {spec.scale:.6g} zero_point {spec.zero_point}"
            )
    return lines


def labels_lines(model, shown: int = 8) -> list:
    """The model's labels, the first `shown` of them, or nothing when it has none."""
    if not model.labels:
        return []
    names = ", ".join(model.labels[:shown]) + (", ..." if len(model.labels) > shown else "")
    where = f" of output {model.labels_output}" if len(model.outputs) > 1 else ""
    return [f"labels{where}: {len(model.labels)} ({names})"]


def describe(model, container_bytes: int, board: Board) -> list:
    """Lines of text describing the model (memory_report.describe_memory adds the board's
    memory table)."""
    header = ("#", "op", "activation", "shapes", "weights", "weight B", "params B", "activations B")
    return [
        *edge_lines(model),
        *edge_notes(model),
        *labels_lines(model),
        "",
        *format_table(header, layer_rows(model)),
        "",
        f"container bytes:    {container_bytes}",
        f"weight bytes:       {sum(layer.weight_bytes for layer in model.layers)}",
        f"activation bytes:   {activation_bytes(model)} (the int8 arena: tensors share bytes "
        "when their lifetimes do not meet)",
    ]
