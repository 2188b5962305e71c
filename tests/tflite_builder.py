"""Write small .tflite flatbuffers for importer tests and the bench (no TensorFlow needed).

Builds with the `flatbuffers` runtime and the schema builders of the `tflite` package, so the
bytes are a real TFLite model that the TFLM interpreter loads (tests/test_tflite_builder_ops.py
runs every operator below through it). Operator options use the schema's field names.
"""

from dataclasses import dataclass, field

import flatbuffers
import numpy as np
import tflite
from tflite.utils import BUILTIN_OPCODE2NAME

OPCODES = {name: code for code, name in BUILTIN_OPCODE2NAME.items()}
TYPES = {"FLOAT32": 0, "FLOAT16": 1, "INT32": 2, "INT8": 9, "INT16": 7}
# The builtin options table of each operator the builder writes options for (schema.fbs).
OPTIONS = {
    "FULLY_CONNECTED": "FullyConnectedOptions",
    "CONV_2D": "Conv2DOptions",
    "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions",
    "AVERAGE_POOL_2D": "Pool2DOptions",
    "MAX_POOL_2D": "Pool2DOptions",
    "SOFTMAX": "SoftmaxOptions",
    "RESHAPE": "ReshapeOptions",
    "MEAN": "ReducerOptions",
    "REDUCE_MAX": "ReducerOptions",
    "SUM": "ReducerOptions",
    "RESIZE_NEAREST_NEIGHBOR": "ResizeNearestNeighborOptions",
    "RESIZE_BILINEAR": "ResizeBilinearOptions",
    "CONCATENATION": "ConcatenationOptions",
    "STRIDED_SLICE": "StridedSliceOptions",
    "LEAKY_RELU": "LeakyReluOptions",
}
ENUMS = {"padding": tflite.Padding, "fused_activation_function": tflite.ActivationFunctionType}


@dataclass
class T:
    """A tensor: shape as stored, optional shape signature, constant data and quantization."""

    name: str
    shape: tuple
    dtype: str = "INT8"
    data: np.ndarray | None = None
    scale: tuple = ()
    zero_point: tuple = ()
    signature: tuple | None = None
    axis: int = 0  # quantized_dimension of per-channel scales


@dataclass
class Op:
    """An operator; options: schema fields in snake_case, e.g. {"stride_w": 2, "padding":
    "SAME", "fused_activation_function": "RELU", "beta": 1.0} (enums by name or number)."""

    name: str
    inputs: tuple
    outputs: tuple
    options: dict = field(default_factory=dict)


def _vector(builder, values, dtype):
    return builder.CreateNumpyVector(np.asarray(values, dtype))


def _tables(builder, start, offsets):
    start(builder, len(offsets))
    for offset in reversed(offsets):
        builder.PrependUOffsetTRelative(offset)
    return builder.EndVector()


def _quantization(builder, tensor):
    if not tensor.scale:
        return None
    scale = _vector(builder, tensor.scale, np.float32)
    zero_point = _vector(builder, tensor.zero_point or [0] * len(tensor.scale), np.int64)
    tflite.QuantizationParametersStart(builder)
    tflite.QuantizationParametersAddScale(builder, scale)
    tflite.QuantizationParametersAddZeroPoint(builder, zero_point)
    tflite.QuantizationParametersAddQuantizedDimension(builder, tensor.axis)
    return tflite.QuantizationParametersEnd(builder)


def _tensor(builder, tensor, buffer_index):
    name = builder.CreateString(tensor.name)
    shape = _vector(builder, tensor.shape, np.int32)
    signature = None if tensor.signature is None else _vector(builder, tensor.signature, np.int32)
    quantization = _quantization(builder, tensor)
    tflite.TensorStart(builder)
    tflite.TensorAddShape(builder, shape)
    if signature is not None:
        tflite.TensorAddShapeSignature(builder, signature)
    tflite.TensorAddType(builder, TYPES[tensor.dtype])
    tflite.TensorAddBuffer(builder, buffer_index)
    tflite.TensorAddName(builder, name)
    if quantization is not None:
        tflite.TensorAddQuantization(builder, quantization)
    return tflite.TensorEnd(builder)


def _options(builder, op):
    """(BuiltinOptions type, table offset) of op's options, or (None, None) for an operator
    without an options table here."""
    table = OPTIONS.get(op.name)
    if table is None:
        if op.options:
            raise ValueError(f"tests/tflite_builder.py writes no options for {op.name}")
        return None, None
    adders = []
    for name, value in op.options.items():
        camel = "".join(part.capitalize() for part in name.split("_"))
        add = getattr(tflite, f"{table}Add{camel}", None)
        if add is None:
            raise ValueError(f"{table} has no field {name!r}")
        if isinstance(value, str):
            value = getattr(ENUMS[name], value)
        adders.append((add, value))
    getattr(tflite, f"{table}Start")(builder)
    for add, value in adders:
        add(builder, value)
    return getattr(tflite.BuiltinOptions, table), getattr(tflite, f"{table}End")(builder)


def _operator(builder, op, opcode_index):
    inputs = _vector(builder, op.inputs, np.int32)
    outputs = _vector(builder, op.outputs, np.int32)
    options_type, options = _options(builder, op)
    tflite.OperatorStart(builder)
    tflite.OperatorAddOpcodeIndex(builder, opcode_index)
    tflite.OperatorAddInputs(builder, inputs)
    tflite.OperatorAddOutputs(builder, outputs)
    if options is not None:
        tflite.OperatorAddBuiltinOptionsType(builder, options_type)
        tflite.OperatorAddBuiltinOptions(builder, options)
    return tflite.OperatorEnd(builder)


def _buffer(builder, data):
    payload = None if data is None else _vector(builder, np.frombuffer(data, np.uint8), np.uint8)
    tflite.BufferStart(builder)
    if payload is not None:
        tflite.BufferAddData(builder, payload)
    return tflite.BufferEnd(builder)


def _opcode(builder, name):
    code = OPCODES[name]
    tflite.OperatorCodeStart(builder)
    tflite.OperatorCodeAddDeprecatedBuiltinCode(builder, min(code, 127))
    tflite.OperatorCodeAddBuiltinCode(builder, code)
    tflite.OperatorCodeAddVersion(builder, 1)
    return tflite.OperatorCodeEnd(builder)


def build_tflite(tensors, operators, inputs, outputs) -> bytes:
    """A one-subgraph .tflite. Buffer 0 is the empty sentinel, as the converter writes."""
    builder = flatbuffers.Builder(1024)
    raw = [None] + [
        None if t.data is None else np.ascontiguousarray(t.data).tobytes() for t in tensors
    ]
    buffers = [_buffer(builder, data) for data in raw]
    names = sorted({op.name for op in operators})
    opcodes = [_opcode(builder, name) for name in names]
    tensor_offsets = [
        _tensor(builder, t, i + 1 if t.data is not None else 0) for i, t in enumerate(tensors)
    ]
    op_offsets = [_operator(builder, op, names.index(op.name)) for op in operators]
    tensor_vector = _tables(builder, tflite.SubGraphStartTensorsVector, tensor_offsets)
    op_vector = _tables(builder, tflite.SubGraphStartOperatorsVector, op_offsets)
    input_vector = _vector(builder, inputs, np.int32)
    output_vector = _vector(builder, outputs, np.int32)
    tflite.SubGraphStart(builder)
    tflite.SubGraphAddTensors(builder, tensor_vector)
    tflite.SubGraphAddOperators(builder, op_vector)
    tflite.SubGraphAddInputs(builder, input_vector)
    tflite.SubGraphAddOutputs(builder, output_vector)
    subgraph = tflite.SubGraphEnd(builder)
    subgraphs = _tables(builder, tflite.ModelStartSubgraphsVector, [subgraph])
    codes = _tables(builder, tflite.ModelStartOperatorCodesVector, opcodes)
    buffer_vector = _tables(builder, tflite.ModelStartBuffersVector, buffers)
    tflite.ModelStart(builder)
    tflite.ModelAddVersion(builder, 3)
    tflite.ModelAddOperatorCodes(builder, codes)
    tflite.ModelAddSubgraphs(builder, subgraphs)
    tflite.ModelAddBuffers(builder, buffer_vector)
    builder.Finish(tflite.ModelEnd(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def dense_int8(
    in_features=4,
    out_features=3,
    seed=0,
    input_signature=None,
    extra_op=None,
    extra_inputs=(3, 3),
    extra_output=(0.05, 4),
    weight_scale=(0.01,),
    fused_activation=0,
    batch=1,
    output=(0.05, 4),
) -> bytes:
    """x[batch, in] -> FULLY_CONNECTED -> y[1, out], all int8. extra_op appends an operator (e.g.
    "MUL") reading tensors `extra_inputs` (3 is y) and writing an output with scale and zero
    point `extra_output`."""
    rng = np.random.default_rng(seed)
    weights = rng.integers(-127, 128, (out_features, in_features)).astype(np.int8)
    bias = rng.integers(-500, 500, out_features).astype(np.int32)
    bias_scale = tuple(0.02 * s for s in weight_scale)
    tensors = [
        T("x", (batch, in_features), scale=(0.02,), zero_point=(-3,), signature=input_signature),
        T("w", weights.shape, data=weights, scale=weight_scale),
        T("b", bias.shape, "INT32", bias, scale=bias_scale),
        T("dense/y", (batch, out_features), scale=output[:1], zero_point=output[1:]),
    ]
    operators = [
        Op("FULLY_CONNECTED", (0, 1, 2), (3,), {"fused_activation_function": fused_activation}),
    ]
    if extra_op is not None:
        scale, zero_point = extra_output
        tensors.append(T("extra/out", (1, out_features), scale=(scale,), zero_point=(zero_point,)))
        operators.append(Op(extra_op, tuple(extra_inputs), (4,)))
    return build_tflite(tensors, operators, (0,), (len(tensors) - 1,))


def dense_float(in_features=4, out_features=3) -> bytes:
    """A float-only model: the converter without int8 quantization."""
    weights = np.linspace(-1, 1, in_features * out_features, dtype=np.float32)
    tensors = [
        T("x", (1, in_features), "FLOAT32"),
        T("w", (out_features, in_features), "FLOAT32", weights.reshape(out_features, -1)),
        T("b", (out_features,), "FLOAT32", np.zeros(out_features, np.float32)),
        T("dense/y", (1, out_features), "FLOAT32"),
    ]
    return build_tflite(tensors, [Op("FULLY_CONNECTED", (0, 1, 2), (3,))], (0,), (3,))
