"""ONNX models (how PyTorch users arrive), read with the `onnx` package.

ONNX images are channels-first (N, C, H, W); micronn's are channels-last. The importer turns
every image tensor to (H, W, C) and a 1-D signal (N, C, L) to (1, L, C), so the converted
model takes channels-last input: pass x.transpose(0, 2, 3, 1) (images) or x.transpose(0, 2, 1)
(signals). A Flatten of an image keeps ONNX's (C, H, W) order by permuting the columns of the
dense layer that reads it.
"""

from pathlib import Path

from micronn.graph import FloatGraph
from micronn.importers.onnx_nodes import OnnxGraph, tensor_array
from micronn.messages import one_line


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ValueError("reading ONNX models needs the onnx package: pip install onnx") from None
    return onnx


def _static_dims(value_info) -> list:
    dims = []
    for dim in value_info.type.tensor_type.shape.dim:
        dims.append(dim.dim_value if dim.HasField("dim_value") and dim.dim_value > 0 else None)
    return dims


def load_onnx(path) -> FloatGraph:
    """Import an ONNX model with one input and one output."""
    onnx = _onnx()
    with open(path, "rb"):  # OSError (file not found) before any parsing
        pass
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # the onnx package raises protobuf's DecodeError and others
        raise ValueError(
            f"{path}: cannot read as ONNX ({one_line(error)}); re-export the model"
        ) from None
    graph = model.graph
    if not graph.node:
        raise ValueError(f"{path}: cannot import: the file holds no ONNX graph (empty or not ONNX)")
    constants = {init.name: tensor_array(init, Path(path).name) for init in graph.initializer}
    inputs = [i for i in graph.input if i.name not in constants]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise ValueError(
            f"{Path(path).name}: the model has {len(inputs)} inputs and {len(graph.output)} "
            "outputs; micronn imports models with one input and one output"
        )
    dims = _static_dims(inputs[0])
    if len(dims) < 2 or any(d is None for d in dims[1:]):
        shown = ["batch" if d is None else d for d in dims]
        raise ValueError(
            f"{Path(path).name}: input '{inputs[0].name}' has shape {shown}; micronn needs "
            "static shapes apart from the batch axis: export with a fixed-size example input "
            "and mark only axis 0 dynamic"
        )
    try:
        return OnnxGraph(graph, constants, dims[1:]).build()
    except ValueError as error:
        raise ValueError(f"{Path(path).name}: {error}") from None
