"""Read a .tflite flatbuffer into plain Python records: tensors, constants and operators.

Uses the schema classes of the PyPI `tflite` package (pure Python; no TensorFlow needed).
"""

import re
from dataclasses import dataclass, field

import numpy as np

try:
    import tflite
    from tflite.utils import BUILTIN_OPCODE2NAME
except ImportError:  # pragma: no cover - depends on the environment
    tflite = None

NO_INPUT = -1
FILE_IDENTIFIER = b"TFL3"


class TfliteFormatError(ValueError):
    """The bytes are not a well-formed .tflite model (the message names the file)."""


NUMPY_TYPES = {
    "FLOAT32": np.float32,
    "FLOAT16": np.float16,
    "FLOAT64": np.float64,
    "INT8": np.int8,
    "UINT8": np.uint8,
    "INT16": np.int16,
    "UINT16": np.uint16,
    "INT32": np.int32,
    "UINT32": np.uint32,
    "INT64": np.int64,
    "UINT64": np.uint64,
    "BOOL": np.bool_,
}
OPTION_ENUMS = {"padding": "Padding", "fused_activation_function": "ActivationFunctionType"}


@dataclass(frozen=True)
class TensorInfo:
    """One TFLite tensor. `shape` is as stored (batch included); `data` is None unless constant.

    `scale` (float32) and `zero_point` (int64) are empty for unquantized tensors; they hold
    one entry per channel along `quantized_dimension` for per-channel tensors.
    """

    index: int
    name: str
    dtype: str
    shape: tuple
    shape_signature: tuple | None
    scale: np.ndarray
    zero_point: np.ndarray
    quantized_dimension: int
    data: np.ndarray | None = field(default=None, repr=False)

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def quantized(self) -> bool:
        return self.scale.size > 0


@dataclass(frozen=True)
class OperatorInfo:
    """One operator, in execution order. Absent optional inputs are NO_INPUT (-1)."""

    index: int
    name: str
    inputs: tuple
    outputs: tuple
    options: dict

    def input(self, position: int) -> int:
        """The tensor index of input `position`, or NO_INPUT when absent."""
        return self.inputs[position] if position < len(self.inputs) else NO_INPUT


@dataclass(frozen=True)
class TfliteGraph:
    name: str
    tensors: list
    operators: list
    inputs: tuple
    outputs: tuple


def _require_tflite():
    if tflite is None:
        raise ValueError(
            "reading .tflite files needs the pure-Python schema package: pip install tflite==2.18.0"
        )


def read_tflite(data: bytes, name: str = "model.tflite") -> TfliteGraph:
    """Parse flatbuffer bytes; raise ValueError naming the problem if they are not a model."""
    _require_tflite()
    data = bytes(data)
    if len(data) < 8 or data[4:8] != FILE_IDENTIFIER:
        raise TfliteFormatError(
            f"{name}: not a .tflite flatbuffer (no 'TFL3' identifier at byte 4)"
        )
    try:
        return _read(data, name)
    except TfliteFormatError:
        raise
    except Exception as error:  # the generated accessors fail in many ways on corrupt bytes
        raise TfliteFormatError(
            f"{name}: corrupt .tflite flatbuffer ({type(error).__name__}: {error}); "
            "re-export the model"
        ) from None


def _read(data: bytes, name: str) -> TfliteGraph:
    model = tflite.Model.GetRootAs(data, 0)
    if model.SubgraphsLength() != 1:
        raise TfliteFormatError(
            f"{name}: has {model.SubgraphsLength()} subgraphs; micronn imports models with "
            "exactly one (no control flow or signatures with several graphs)"
        )
    subgraph = model.Subgraphs(0)
    buffers = [_buffer_bytes(data, model.Buffers(i)) for i in range(model.BuffersLength())]
    tensors = [
        _tensor(subgraph.Tensors(i), i, buffers, name) for i in range(subgraph.TensorsLength())
    ]
    opcodes = [_opcode_name(model.OperatorCodes(i)) for i in range(model.OperatorCodesLength())]
    operators = []
    for i in range(subgraph.OperatorsLength()):
        operator = subgraph.Operators(i)
        code = operator.OpcodeIndex()
        if code >= len(opcodes):
            raise TfliteFormatError(f"{name}: operator {i} uses an opcode that does not exist")
        operators.append(
            OperatorInfo(
                i,
                opcodes[code],
                tuple(int(t) for t in _int_vector(operator, "Inputs")),
                tuple(int(t) for t in _int_vector(operator, "Outputs")),
                _options(operator),
            )
        )
    graph = TfliteGraph(
        name,
        tensors,
        operators,
        tuple(int(t) for t in _int_vector(subgraph, "Inputs")),
        tuple(int(t) for t in _int_vector(subgraph, "Outputs")),
    )
    _check_references(graph)
    return graph


def _check_references(graph: TfliteGraph) -> None:
    count = len(graph.tensors)
    for op in graph.operators:
        if not op.outputs or not all(0 <= t < count for t in op.outputs):
            raise TfliteFormatError(f"{graph.name}: operator {op.index} has a missing output")
        if not all(NO_INPUT <= t < count for t in op.inputs):
            raise TfliteFormatError(f"{graph.name}: operator {op.index} has a missing input")
    if not all(0 <= t < count for t in (*graph.inputs, *graph.outputs)):
        raise TfliteFormatError(f"{graph.name}: a model input or output tensor does not exist")


def _int_vector(table, field_name: str):
    if getattr(table, field_name + "Length")() == 0:
        return ()
    return getattr(table, field_name + "AsNumpy")()


def _buffer_bytes(data: bytes, buffer) -> bytes:
    if buffer is None:
        return b""
    if buffer.Offset() > 1:  # large models keep tensor data after the flatbuffer
        start, size = buffer.Offset(), buffer.Size()
        if start + size > len(data):
            raise ValueError(f"buffer data at {start}+{size} is past the end of the file")
        return data[start : start + size]
    return buffer.DataAsNumpy().tobytes() if buffer.DataLength() else b""


def _type_name(code: int) -> str:
    for type_name, value in vars(tflite.TensorType).items():
        if value == code and not type_name.startswith("_"):
            return type_name
    return f"type {code}"


def _tensor(tensor, index: int, buffers: list, model_name: str) -> TensorInfo:
    dtype = _type_name(tensor.Type())
    name = tensor.Name().decode("utf-8", "replace") if tensor.Name() else f"tensor {index}"
    shape = tuple(int(d) for d in _int_vector(tensor, "Shape"))
    signature = _int_vector(tensor, "ShapeSignature")
    signature = tuple(int(d) for d in signature) if len(signature) else None
    scale, zero_point, dimension = np.zeros(0, np.float32), np.zeros(0, np.int64), 0
    quantization = tensor.Quantization()
    if quantization is not None and quantization.ScaleLength():
        scale = quantization.ScaleAsNumpy().astype(np.float32)
        zero_point = np.zeros(scale.size, np.int64)
        if quantization.ZeroPointLength():
            zero_point = quantization.ZeroPointAsNumpy().astype(np.int64)
        dimension = int(quantization.QuantizedDimension())
    raw = buffers[tensor.Buffer()] if tensor.Buffer() < len(buffers) else b""
    data = _constant(raw, dtype, shape, name, model_name) if raw else None
    return TensorInfo(index, name, dtype, shape, signature, scale, zero_point, dimension, data)


def _constant(raw: bytes, dtype: str, shape: tuple, name: str, model_name: str):
    if dtype not in NUMPY_TYPES:
        return np.frombuffer(raw, np.uint8)  # e.g. packed INT4: left to the operator to reject
    values = np.frombuffer(raw, np.dtype(NUMPY_TYPES[dtype]).newbyteorder("<"))
    if values.size != int(np.prod(shape, dtype=np.int64)):
        raise TfliteFormatError(
            f"{model_name}: constant tensor '{name}' holds {values.size} values "
            f"but its shape {list(shape)} needs {int(np.prod(shape))}"
        )
    return values.astype(NUMPY_TYPES[dtype]).reshape(shape)


def _opcode_name(code) -> str:
    value = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    if value == tflite.BuiltinOperator.CUSTOM:
        custom = code.CustomCode()
        return f"CUSTOM:{custom.decode('utf-8', 'replace') if custom else '?'}"
    return BUILTIN_OPCODE2NAME.get(value, f"BUILTIN_{value}")


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _options(operator) -> dict:
    kind = operator.BuiltinOptionsType()
    if kind == 0:
        return {}
    class_name = next(
        (n for n, v in vars(tflite.BuiltinOptions).items() if v == kind and not n.startswith("_")),
        None,
    )
    options_class = getattr(tflite, class_name, None) if class_name else None
    table = operator.BuiltinOptions()
    if options_class is None or table is None:
        return {}
    options = options_class()
    options.Init(table.Bytes, table.Pos)
    return _decode_table(options)


def _decode_table(options) -> dict:
    """Every scalar or vector field of a generated options table, by snake_case name."""
    skip_suffixes = ("AsNumpy", "Length", "IsNone", "BufferHasIdentifier")
    decoded = {}
    for attribute in dir(type(options)):
        if (
            not attribute[:1].isupper()
            or attribute == "Init"
            or attribute.startswith("GetRootAs")
            or attribute.endswith(skip_suffixes)
        ):
            continue
        getter = getattr(options, attribute)
        if hasattr(options, attribute + "Length"):
            value = [getter(j) for j in range(getattr(options, attribute + "Length")())]
        else:
            try:
                value = getter()
            except TypeError:
                continue
        if isinstance(value, (bool, int, float, list)):
            decoded[_snake(attribute)] = _enum_name(_snake(attribute), value)
    return decoded


def _enum_name(key: str, value):
    if key not in OPTION_ENUMS:
        return value
    enum = getattr(tflite, OPTION_ENUMS[key])
    names = {v: n for n, v in vars(enum).items() if not n.startswith("_")}
    if value not in names:
        raise TfliteFormatError(
            f"an operator's {key} is {value}, which TFLite does not define (a damaged file); "
            "re-export the model"
        )
    return names[value]
