"""Deterministic mutations of model files, for tests/test_fuzz_files.py.

Every mutator is a function (bytes, random.Random) -> bytes. Byte mutations are what a damaged
disk or a careless edit does (bit flips, boundary bytes and words, truncation, inserted and
deleted chunks); the structure-aware ones reach the code behind the parsers: numbers in text
(JSON, .npy headers), JSON values, .npy headers, members of zip archives (re-zipped), and the
fields of an ONNX protobuf.
"""

import ast
import copy
import io
import json
import struct
import warnings
import zipfile

import numpy as np

BOUNDARY_BYTES = (0x00, 0xFF, 0x7F, 0x80, 0x01, 0xFE)
BOUNDARY_INTS = (
    0,
    1,
    -1,
    2,
    0x7F,
    0x80,
    0xFF,
    0x7FFF,
    0x8000,
    0xFFFF,
    0x7FFFFFFF,
    -0x80000000,
    0xFFFFFFFF,
    2**40,
    2**63 - 1,
)
BOUNDARY_NUMBERS = ("0", "-1", "1", "2", "65536", "2147483648", "4294967296", "99999999999999")
JSON_VALUES = (
    0,
    -1,
    1,
    3,
    2**31,
    2**63,
    -(2**40),
    1e308,
    -0.5,
    None,
    True,
    False,
    "",
    "x",
    "same",
    "relu",
    [],
    {},
    [0],
    [-1, -1],
    [0, 0],
    [2**31, 1],
    [None],
    {"x": 1},
)
WORD_FORMATS = ("<b", "<B", "<h", "<H", "<i", "<I", "<q", "<Q")


def _fit(fmt: str, value: int) -> int:
    bits = 8 * struct.calcsize(fmt)
    value %= 1 << bits
    if fmt[1].islower() and value >= 1 << (bits - 1):
        value -= 1 << bits
    return value


# ------------------------------------------------------------------ byte mutations


def flip_bit(data: bytes, rng) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    position = rng.randrange(len(out))
    out[position] ^= 1 << rng.randrange(8)
    return bytes(out)


def boundary_byte(data: bytes, rng) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    out[rng.randrange(len(out))] = rng.choice(BOUNDARY_BYTES)
    return bytes(out)


def boundary_word(data: bytes, rng) -> bytes:
    """A 1-8 byte integer field (aligned to its size, as flatbuffers and headers lay them out)
    set to a boundary value."""
    fmt = rng.choice(WORD_FORMATS)
    size = struct.calcsize(fmt)
    if len(data) < size:
        return data
    position = rng.randrange(0, len(data) - size + 1, size if rng.random() < 0.8 else 1)
    out = bytearray(data)
    struct.pack_into(fmt, out, position, _fit(fmt, rng.choice(BOUNDARY_INTS)))
    return bytes(out)


def truncate(data: bytes, rng) -> bytes:
    if not data:
        return data
    cut = rng.choice((0, 1, 7, 8, 16, 64, rng.randrange(len(data))))
    return data[: min(cut, len(data) - 1)] if rng.random() < 0.8 else data[: len(data) - cut]


def insert_chunk(data: bytes, rng) -> bytes:
    position = rng.randrange(len(data) + 1)
    size = rng.choice((1, 4, 8, 64, 1000))
    if data and rng.random() < 0.5:
        start = rng.randrange(len(data))
        chunk = data[start : start + size]
    else:
        chunk = bytes(rng.choice(BOUNDARY_BYTES) for _ in range(size))
    return data[:position] + chunk + data[position:]


def delete_chunk(data: bytes, rng) -> bytes:
    if not data:
        return data
    start = rng.randrange(len(data))
    return data[:start] + data[start + rng.choice((1, 4, 8, 64, 1000)) :]


def text_number(data: bytes, rng) -> bytes:
    """A decimal number in the bytes (a JSON value, an .npy shape) replaced by a boundary one."""
    runs, start = [], None
    for position, byte in enumerate(data[:200_000]):
        digit = 0x30 <= byte <= 0x39
        if digit and start is None:
            start = position
        elif not digit and start is not None:
            runs.append((start, position))
            start = None
    if not runs:
        return boundary_byte(data, rng)
    begin, end = rng.choice(runs)
    return data[:begin] + rng.choice(BOUNDARY_NUMBERS).encode() + data[end:]


BYTE_MUTATIONS = (
    flip_bit,
    boundary_byte,
    boundary_word,
    boundary_word,
    truncate,
    insert_chunk,
    delete_chunk,
    text_number,
)


def mutate_bytes(data: bytes, rng) -> bytes:
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        data = rng.choice(BYTE_MUTATIONS)(data, rng)
    return data


# ------------------------------------------------------------------ JSON


def _json_slots(value, slots):
    """(container, key) of every value inside `value`."""
    if isinstance(value, dict):
        for key, item in value.items():
            slots.append((value, key))
            _json_slots(item, slots)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            slots.append((value, index))
            _json_slots(item, slots)
    return slots


def mutate_json_value(value, rng):
    """One value of a parsed JSON document replaced, deleted or duplicated (in place)."""
    slots = _json_slots(value, [])
    if not slots:
        return rng.choice(JSON_VALUES)
    container, key = rng.choice(slots)
    action = rng.random()
    if action < 0.7:
        if rng.random() < 0.3 and isinstance(container[key], (int, float)) and container[key]:
            container[key] = container[key] * rng.choice((-1, 0, 2, 1000, 2**31))
        else:
            container[key] = rng.choice(JSON_VALUES)
    elif action < 0.85:
        del container[key]
    elif isinstance(container, list):
        container.insert(key, container[key])
    else:
        other = rng.choice(slots)
        container[key] = copy.deepcopy(other[0][other[1]])
    return value


def mutate_json(data: bytes, rng) -> bytes:
    try:
        value = json.loads(data)
    except ValueError:
        return mutate_bytes(data, rng)
    for _ in range(rng.choice((1, 1, 2))):
        value = mutate_json_value(value, rng)
    return json.dumps(value).encode()


def embedded_json(data: bytes, rng, start=b'{"class_name"') -> bytes:
    """Mutate a JSON document stored inside a binary file (a legacy .h5's model_config) and
    write it back in place, padded with spaces, so that the file around it stays valid."""
    begin = data.find(start)
    if begin < 0:
        return mutate_bytes(data, rng)
    decoder = json.JSONDecoder()
    try:
        value, end = decoder.raw_decode(data[begin:].decode("latin-1"))
    except ValueError:
        return mutate_bytes(data, rng)
    for _attempt in range(8):
        mutated = json.dumps(mutate_json_value(json.loads(json.dumps(value)), rng)).encode()
        if len(mutated) <= end:
            return data[:begin] + mutated.ljust(end) + data[begin + end :]
    return mutate_bytes(data, rng)


# ------------------------------------------------------------------ .npy

NPY_DESCRS = (
    "<f4",
    "<f8",
    "<f2",
    "|i1",
    "<i8",
    "|b1",
    "<U4",
    "|S3",
    "|V8",
    ">f4",
    "<c8",
    "|O",
    "x",
)
NPY_DIMS = (0, 1, -1, 2, 3, 65536, 2**31, 2**40, 2**62)


def mutate_npy(data: bytes, rng) -> bytes:
    """Change the shape, dtype or order in an .npy header (keeping the header's length field
    right), or the bytes."""
    if not data.startswith(b"\x93NUMPY") or len(data) < 10 or rng.random() < 0.3:
        return mutate_bytes(data, rng)
    major = data[6]
    size_format = "<H" if major == 1 else "<I"
    length_at = 8
    length = struct.unpack_from(size_format, data, length_at)[0]
    start = length_at + struct.calcsize(size_format)
    try:
        header = ast.literal_eval(data[start : start + length].decode("latin-1"))
    except (ValueError, SyntaxError):
        return mutate_bytes(data, rng)
    if not isinstance(header, dict):
        return mutate_bytes(data, rng)
    choice = rng.random()
    shape = list(header.get("shape", ()))
    if choice < 0.5:
        if shape and rng.random() < 0.7:
            shape[rng.randrange(len(shape))] = rng.choice(NPY_DIMS)
        else:
            shape.append(rng.choice(NPY_DIMS))
        header["shape"] = tuple(shape)
    elif choice < 0.8:
        header["descr"] = rng.choice(NPY_DESCRS)
    elif choice < 0.9:
        header["fortran_order"] = not header.get("fortran_order", False)
    else:
        header.pop(rng.choice(sorted(header)), None)
    text = repr(header).encode("latin-1")
    text += b" " * ((-(start + len(text) + 1)) % 64) + b"\n"
    body = data[start + length :]
    if rng.random() < 0.2:
        body = truncate(body, rng)
    if major == 1 and len(text) > 0xFFFF:
        return mutate_bytes(data, rng)
    return data[:length_at] + struct.pack(size_format, len(text)) + text + body


# ------------------------------------------------------------------ zip archives


def mutate_zip(data: bytes, rng, member_mutators: dict) -> bytes:
    """Mutate one member (by its suffix in `member_mutators`, else bytes) and re-zip; or drop,
    rename or add a member; or mutate the archive's own bytes."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [(info.filename, archive.read(info)) for info in archive.infolist()]
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return mutate_bytes(data, rng)
    choice = rng.random()
    if choice < 0.2 or not members:
        return mutate_bytes(data, rng)
    index = rng.randrange(len(members))
    name, content = members[index]
    if choice < 0.85:
        suffix = name[name.rfind(".") :] if "." in name else ""
        mutator = member_mutators.get(suffix, mutate_bytes)
        members[index] = (name, mutator(content, rng))
    elif choice < 0.9:
        del members[index]
    elif choice < 0.95:
        members[index] = (rng.choice(("x.npy", name.upper(), name + ".npy", "")) or "a", content)
    else:
        members.append(members[index])
    out = io.BytesIO()
    compression = rng.choice((zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED))
    with warnings.catch_warnings(), zipfile.ZipFile(out, "w", compression) as archive:
        warnings.simplefilter("ignore")  # a duplicated member is the point
        for member_name, member in members:
            info = zipfile.ZipInfo(member_name, (2024, 1, 1, 0, 0, 0))
            info.compress_type = compression
            archive.writestr(info, member)
    return out.getvalue()


# ------------------------------------------------------------------ ONNX


def mutate_onnx(data: bytes, rng) -> bytes:
    """One field of the parsed model changed: a node attribute, input or op type, an
    initializer's dims or type, the graph input's dims, or a node dropped."""
    from onnx import ModelProto

    model = ModelProto()
    try:
        model.ParseFromString(data)
    except Exception:  # protobuf's DecodeError: the bytes are already broken
        return mutate_bytes(data, rng)
    graph = model.graph
    choice = rng.random()
    nodes = list(graph.node)
    if choice < 0.35 and nodes:
        node = rng.choice(nodes)
        attributes = list(node.attribute)
        if attributes:
            attribute = rng.choice(attributes)
            if attribute.ints:
                attribute.ints[rng.randrange(len(attribute.ints))] = _fit(
                    "<q", rng.choice(BOUNDARY_INTS)
                )
                if rng.random() < 0.3:
                    del attribute.ints[-1]
            elif attribute.HasField("i"):
                attribute.i = _fit("<q", rng.choice(BOUNDARY_INTS))
            elif attribute.floats:
                attribute.floats[0] = rng.choice((0.0, -1.0, 1e30, float("nan")))
            elif attribute.HasField("f"):
                attribute.f = rng.choice((0.0, -1.0, 1e30, float("nan"), float("inf")))
            elif attribute.HasField("s"):
                attribute.s = rng.choice((b"", b"SAME_UPPER", b"VALID", b"linear", b"x"))
            else:
                attribute.name = rng.choice(("axis", "pads", "strides", "x"))
        else:
            node.op_type = rng.choice(("Conv", "Gemm", "Reshape", "MaxPool", "Concat", "Slice"))
    elif choice < 0.5 and nodes:
        node = rng.choice(nodes)
        names = [i.name for i in graph.initializer] + [o for n in nodes for o in n.output]
        if node.input and names:
            node.input[rng.randrange(len(node.input))] = rng.choice([*names, "", "missing"])
        elif names:
            node.input.append(rng.choice(names))
    elif choice < 0.6 and nodes:
        node = rng.choice(nodes)
        node.op_type = rng.choice(
            ("Conv", "Gemm", "MatMul", "Reshape", "Flatten", "AveragePool", "Softmax", "Pad")
        )
    elif choice < 0.8 and graph.initializer:
        tensor = rng.choice(list(graph.initializer))
        if tensor.dims and rng.random() < 0.7:
            tensor.dims[rng.randrange(len(tensor.dims))] = rng.choice(NPY_DIMS)
        elif rng.random() < 0.5:
            tensor.dims.append(rng.choice(NPY_DIMS))
        else:
            tensor.data_type = rng.choice((0, 2, 3, 6, 7, 8, 9, 10, 11, 16, 17, 99))
    elif choice < 0.9 and graph.input:
        dims = graph.input[0].type.tensor_type.shape.dim
        if dims:
            dims[rng.randrange(len(dims))].dim_value = rng.choice(NPY_DIMS[:7])
    elif nodes:
        del graph.node[rng.randrange(len(nodes))]
    return model.SerializeToString()


# ------------------------------------------------------------------ .tflite

TFLITE_DIMS = (0, 1, -1, 2, 3, 7, 255, 65536, 2**31 - 1)
TFLITE_SCALES = (
    (0.0,),
    (-1.0,),
    (float("nan"),),
    (float("inf"),),
    (1e-45,),
    (1e38,),
    (),
    (0.5,) * 3,
)
TFLITE_OPS = (
    "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D",
    "SOFTMAX", "RESHAPE", "ADD", "MUL", "MEAN", "PAD", "CONCATENATION", "LOGISTIC", "TANH",
    "STRIDED_SLICE", "RESIZE_NEAREST_NEIGHBOR", "QUANTIZE", "DEQUANTIZE",
)  # fmt: skip


def _tflite_records(data: bytes):
    """The tensors, operators, inputs and outputs of a model as tests/tflite_builder.py takes
    them, or None when the builder cannot write it back."""
    from tflite_builder import OPCODES, OPTIONS, TYPES, Op, T

    from micronn.importers.tflite import read_tflite

    graph = read_tflite(data)
    tensors = []
    for t in graph.tensors:
        if t.dtype not in TYPES:
            return None
        tensors.append(
            T(t.name, t.shape, t.dtype, t.data, tuple(float(v) for v in t.scale),
              tuple(int(v) for v in t.zero_point), t.shape_signature, t.quantized_dimension)
        )  # fmt: skip
    operators = []
    for op in graph.operators:
        if op.name not in OPCODES:
            return None
        options = {k: v for k, v in op.options.items() if _writable(OPTIONS.get(op.name), k, v)}
        operators.append(Op(op.name, op.inputs, op.outputs, options))
    return tensors, operators, list(graph.inputs), list(graph.outputs)


def _writable(table, key, value) -> bool:
    import tflite

    camel = "".join(part.capitalize() for part in key.split("_"))
    return (
        table is not None
        and hasattr(tflite, f"{table}Add{camel}")
        and isinstance(value, (int, float, str))
    )


def _resized(data, shape, rng):
    """Constant data for a new shape: the old values cycled, when the shape is small."""
    count = 1
    for d in shape:
        count *= max(d, 0)
    if data is None or count > 100_000 or min(shape, default=1) < 0:
        return data
    flat = data.reshape(-1)
    values = np.resize(flat, count) if flat.size else np.zeros(count, data.dtype)
    return values.reshape(shape)


def _mutate_tensor(tensor, rng) -> None:
    choice = rng.random()
    if choice < 0.35:
        shape = list(tensor.shape)
        if shape and rng.random() < 0.75:
            shape[rng.randrange(len(shape))] = rng.choice(TFLITE_DIMS)
        elif shape and rng.random() < 0.5:
            del shape[rng.randrange(len(shape))]
        else:
            shape.insert(rng.randrange(len(shape) + 1), rng.choice(TFLITE_DIMS[:6]))
        tensor.shape = tuple(shape)
        if rng.random() < 0.6:
            tensor.data = _resized(tensor.data, tensor.shape, rng)
    elif choice < 0.45:
        tensor.signature = tuple(-1 if rng.random() < 0.5 else d for d in tensor.shape)
    elif choice < 0.55:
        tensor.dtype = rng.choice(("FLOAT32", "INT32", "INT8", "INT16", "FLOAT16"))
        if tensor.data is not None:
            tensor.data = tensor.data.astype({"FLOAT32": np.float32, "INT32": np.int32,
                                              "INT8": np.int8, "INT16": np.int16,
                                              "FLOAT16": np.float16}[tensor.dtype])  # fmt: skip
    elif choice < 0.7:
        tensor.scale = rng.choice(TFLITE_SCALES)
        tensor.zero_point = tuple(0 for _ in tensor.scale)
    elif choice < 0.8:
        count = max(len(tensor.scale), 1)
        tensor.zero_point = tuple(_fit("<q", rng.choice(BOUNDARY_INTS)) for _ in range(count))
        tensor.scale = tensor.scale or (0.1,) * count
    elif choice < 0.85:
        tensor.axis = rng.choice((-1, 1, 2, 3, 7))
    elif tensor.data is not None and tensor.data.size:
        flat = tensor.data.reshape(-1).copy()
        info = np.iinfo(flat.dtype) if flat.dtype.kind in "iu" else None
        extreme = (info.min, info.max) if info else (3e38, -3e38, np.inf, np.nan)
        flat[rng.randrange(flat.size)] = rng.choice(extreme)
        tensor.data = flat.reshape(tensor.data.shape)


def _mutate_operator(op, count: int, rng) -> None:
    choice = rng.random()
    if choice < 0.5 and op.options:
        key = rng.choice(sorted(op.options))
        value = op.options[key]
        if isinstance(value, str):  # an enum: a name, or a number the schema lacks
            op.options[key] = rng.choice(("SAME", "VALID", "RELU", "TANH", "NONE", "RELU6", 7))
        elif isinstance(value, float):
            op.options[key] = rng.choice((0.0, -1.0, float("nan"), 1e30))
        else:
            op.options[key] = rng.choice((0, -1, 2, 3, 1000, 65536, 2**31 - 1, -(2**31)))
    elif choice < 0.8:
        edges = list(op.inputs) if rng.random() < 0.7 or not op.outputs else list(op.outputs)
        if edges:
            edges[rng.randrange(len(edges))] = rng.choice((-1, rng.randrange(count)))
            if rng.random() < 0.2:
                edges.pop()
        if op.inputs and edges != list(op.outputs):
            op.inputs = tuple(edges)
        else:
            op.outputs = tuple(edges)
    else:
        op.name = rng.choice(TFLITE_OPS)
        if op.name not in __import__("tflite_builder").OPTIONS:
            op.options = {}


def mutate_tflite(data: bytes, rng) -> bytes:
    """One field of the model changed through its schema (shapes, dtypes, quantization,
    constant values, options, wiring, operator kinds), written back as a valid flatbuffer."""
    from tflite_builder import OPTIONS, build_tflite

    try:
        records = _tflite_records(data)
    except ValueError:
        records = None
    if records is None:
        return mutate_bytes(data, rng)
    tensors, operators, inputs, outputs = records
    for _ in range(rng.choice((1, 1, 2))):
        choice = rng.random()
        if choice < 0.5:
            _mutate_tensor(rng.choice(tensors), rng)
        elif choice < 0.85 and operators:
            _mutate_operator(rng.choice(operators), len(tensors), rng)
        elif choice < 0.92 and operators:
            del operators[rng.randrange(len(operators))]
        else:
            edges = inputs if rng.random() < 0.5 else outputs
            if edges:
                edges[rng.randrange(len(edges))] = rng.randrange(len(tensors))
    for op in operators:
        op.options = {k: v for k, v in op.options.items() if _writable(OPTIONS.get(op.name), k, v)}
    try:
        return build_tflite(tensors, operators, inputs, outputs)
    except (ValueError, TypeError, OverflowError, struct.error, KeyError, AttributeError):
        return mutate_bytes(data, rng)  # a value the schema's builder cannot write


# ------------------------------------------------------------------ by format


def _keras_zip(data, rng):
    return mutate_zip(data, rng, {".json": mutate_json, ".h5": mutate_bytes})


def _npz(data, rng):
    return mutate_zip(data, rng, {".npy": mutate_npy})


def _h5(data, rng):
    return embedded_json(data, rng) if rng.random() < 0.5 else mutate_bytes(data, rng)


def _onnx(data, rng):
    return mutate_onnx(data, rng) if rng.random() < 0.6 else mutate_bytes(data, rng)


def _tflite(data, rng):
    return mutate_tflite(data, rng) if rng.random() < 0.6 else mutate_bytes(data, rng)


def _npy(data, rng):
    return mutate_npy(data, rng)


MUTATORS = {
    ".keras": _keras_zip,
    ".h5": _h5,
    ".npz": _npz,
    ".onnx": _onnx,
    ".npy": _npy,
    ".tflite": _tflite,
    ".mnq": mutate_bytes,
}


def mutate(suffix: str, data: bytes, rng) -> bytes:
    return MUTATORS[suffix](data, rng)
