"""Small int8 .tflite models built in memory, run by the TensorFlow Lite Micro interpreter.

The committed fixtures fix one set of quantization parameters per model; these builders take any
scales, zero points, beta or activation, so tests can sweep them against TFLM itself. They use the
flatbuffer object API that ships with tflite-micro (pinned in requirements.txt, Linux x86-64).
"""

import flatbuffers
import numpy as np
import pytest

NO_TFLM = (
    "tflite-micro is not installed; it is pinned in requirements.txt for Linux x86-64 (`make venv`)"
)
ACTIVATIONS = {"none": 0, "relu": 1, "relu6": 3}


def _modules():
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime", reason=NO_TFLM)
    schema = pytest.importorskip(
        "tflite_micro.tensorflow.lite.micro.python.schema_py_generated", reason=NO_TFLM
    )
    return runtime, schema


def _tensor(schema, index, shape, scale, zero_point, data=None):
    """An int8 activation (data None) or a constant: int8 codes, or int32 when data is int32."""
    tensor = schema.TensorT()
    tensor.name = f"t{index}".encode()
    tensor.shape = np.array(shape, np.int32)
    int32 = data is not None and np.asarray(data).dtype == np.int32
    tensor.type = schema.TensorType.INT32 if int32 else schema.TensorType.INT8
    tensor.buffer = index + 1
    if scale is not None:
        tensor.quantization = schema.QuantizationParametersT()
        tensor.quantization.scale = np.array([scale], np.float32)
        tensor.quantization.zeroPoint = np.array([zero_point], np.int64)
    return tensor


def _buffer(schema, data):
    buffer = schema.BufferT()
    if data is not None:
        buffer.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8)
    return buffer


def graph_model(tensors, operators, inputs, outputs, float_tensors=()) -> bytes:
    """tensors: [(shape, scale, zero_point[, constant data])]; operators: [(name, input
    indices, output indices, options object or None)], in execution order; float_tensors: the
    indices of float32 activations (their scale and zero point are ignored)."""
    _, schema = _modules()
    names = sorted({name for name, *_ in operators})
    codes = []
    for name in names:
        code = schema.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = getattr(schema.BuiltinOperator, name)
        code.version = 1
        codes.append(code)
    graph = schema.SubGraphT()
    graph.tensors = [_tensor(schema, i, *spec) for i, spec in enumerate(tensors)]
    for index in float_tensors:
        graph.tensors[index].type = schema.TensorType.FLOAT32
        graph.tensors[index].quantization = None
    graph.inputs, graph.outputs = list(inputs), list(outputs)
    graph.operators = []
    for name, op_inputs, op_outputs, options in operators:
        operator = schema.OperatorT()
        operator.opcodeIndex = names.index(name)
        operator.inputs, operator.outputs = list(op_inputs), list(op_outputs)
        if options is not None:
            kind = type(options).__name__[:-1]  # SoftmaxOptionsT -> SoftmaxOptions
            operator.builtinOptionsType = getattr(schema.BuiltinOptions, kind)
            operator.builtinOptions = options
        graph.operators.append(operator)
    model = schema.ModelT()
    model.version = 3
    model.operatorCodes = codes
    model.subgraphs = [graph]
    data = [spec[3] if len(spec) > 3 else None for spec in tensors]
    model.buffers = [_buffer(schema, None)] + [_buffer(schema, d) for d in data]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def single_op_model(op: str, shapes, options=None) -> bytes:
    """A model with int8 tensors `shapes` [(shape, scale, zero_point)]: inputs, then the output."""
    ids = list(range(len(shapes)))
    return graph_model(shapes, [(op, ids[:-1], ids[-1:], options)], ids[:-1], ids[-1:])


def options(kind: str, **fields):
    """A builtin options object, e.g. options("SoftmaxOptions", beta=2.0)."""
    _, schema = _modules()
    value = getattr(schema, f"{kind}T")()
    for name, field_value in fields.items():
        setattr(value, name, field_value)
    return value


def lookup_model(op, size, input_scale, input_zero_point, output_scale, output_zero_point):
    shapes = [
        ((1, size), input_scale, input_zero_point),
        ((1, size), output_scale, output_zero_point),
    ]
    return single_op_model(op, shapes)


def softmax_model(shape, beta, input_scale, input_zero_point):
    shapes = [((1, *shape), input_scale, input_zero_point), ((1, *shape), 1 / 256, -128)]
    return single_op_model("SOFTMAX", shapes, options("SoftmaxOptions", beta=beta))


def add_model(size, input1, input2, output, activation="none"):
    """input1/input2/output: (scale, zero_point)."""
    shapes = [((1, size), *input1), ((1, size), *input2), ((1, size), *output)]
    fused = options("AddOptions", fusedActivationFunction=ACTIVATIONS[activation])
    return single_op_model("ADD", shapes, fused)


def run(model: bytes, *inputs, arena_size=None) -> np.ndarray:
    """Invoke TFLM once per sample; inputs are int8 arrays [samples, *shape]. arena_size: for
    models whose activations outgrow TFLM's default (10 x the model's bytes)."""
    runtime, _ = _modules()
    interpreter = runtime.Interpreter.from_bytes(model, arena_size=arena_size)
    outputs = []
    for sample in zip(*inputs, strict=True):
        for index, x in enumerate(sample):
            interpreter.set_input(np.asarray(x, np.int8)[np.newaxis], index)
        interpreter.invoke()
        outputs.append(interpreter.get_output(0)[0].copy())
    return np.stack(outputs)


_ARENA_SCRIPT = """
import sys
from tflite_micro.python.tflite_micro import runtime
runtime.Interpreter.from_file(sys.argv[1], arena_size=int(sys.argv[2])).print_allocations()
"""


def arena_bytes(path, arena_size=64 << 20) -> dict:
    """The bytes TFLM's interpreter takes from its arena for the .tflite at path, as its
    RecordingMicroAllocator reports them: "total", "head" (the activations and scratch buffers,
    laid out by its greedy memory planner) and "tail" (persistent: quantization data, node and
    tensor structs). In a child process: the allocator prints from C, past Python's sys.stderr."""
    import re
    import subprocess
    import sys

    _modules()
    result = subprocess.run(
        [sys.executable, "-c", _ARENA_SCRIPT, str(path), str(arena_size)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    found = dict(
        re.findall(r"Arena allocation (total|head|tail) (\d+) bytes", result.stdout + result.stderr)
    )
    return {part: int(found[part]) for part in ("total", "head", "tail")}
