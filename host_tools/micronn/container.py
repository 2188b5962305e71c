"""Write and read .mnq containers, versions 1, 2 and 3. The specification is docs/format.md.

Version 2 adds the edge counts (header bytes 28 and 29) and an edge table of any length; a
model with one input and one output is written as version 1, which every runtime reads.
Version 3 is version 2 with a labels section after the data blocks (its size in 4-byte words
at header bytes 30 and 31, micronn.labels); only a model with labels is written as version 3.
Header flag BANDS (any version) marks a stage run in bands of rows (micronn.bands): the layer
record's u16 at offset 10 is the band height on the stage's layers, 0 on the others."""

import struct
import zlib

import numpy as np

from micronn import bands as banding
from micronn.arena import check_arena, plan_arena
from micronn.container_rules import ContainerError, validate, weight_shape
from micronn.labels import check_labels, pack_section, unpack_section
from micronn.model import ACTIVATION_CODES, NO_TENSOR, Layer, Model, TensorSpec
from micronn.ops import BY_CODE
from micronn.packing import pack, packed_size, unpack

MAGIC = b"\x89MNQ"
VERSION = 2  # several edges
LABELS_VERSION = 3  # a labels section
VERSIONS = (1, 2, 3)
HEADER = struct.Struct("<4sHHIIHHIIBBH")
EDGE = struct.Struct("<HBBfi")
TENSOR = struct.Struct("<BBH4HI")
RECORD_HEAD = struct.Struct("<BBBBHHHHIII")
DESCRIPTOR = struct.Struct("<B3sII")
CRC_OFFSET = 20
EDGES_AT = HEADER.size
TENSORS_AT = HEADER.size + 2 * EDGE.size  # version 1, and any file with two edges

DTYPE_CODES = {"int8": 1, "int32": 2, "int4": 3, "int2": 4}
DTYPE_BITS = {1: 8, 2: 32, 3: 4, 4: 2}
WEIGHT_DTYPES = {8: 1, 4: 3, 2: 4}
BITS_OF_WEIGHT_DTYPE = {code: bits for bits, code in WEIGHT_DTYPES.items()}
ACTIVATION_NAMES = {code: name for name, code in ACTIVATION_CODES.items()}
BANDS = 1  # header flag: a stage runs in bands of rows

__all__ = ["ContainerError", "read", "validate", "write"]


def _align4(n: int) -> int:
    return (n + 3) & ~3


def _crc(*chunks) -> int:
    crc = 0
    for chunk in chunks:
        crc = zlib.crc32(chunk, crc)
    return crc


# --------------------------------------------------------------------------- writing


def _tensor_payload(layer: Layer, name: str, kind: str):
    values = np.asarray(layer.tensors[name])
    if kind == "weights":
        bits = layer.weight_bits
        data = values.astype(np.int8).tobytes() if bits == 8 else pack(values, bits)
        return WEIGHT_DTYPES[bits], values.size, data
    if kind == "int32":
        return DTYPE_CODES["int32"], values.size, values.astype("<i4").tobytes()
    return DTYPE_CODES["int8"], values.size, values.astype(np.int8).tobytes()


def _data_block(layer: Layer):
    block, descriptors = bytearray(), []
    for name, kind in layer.spec.tensors:
        dtype, count, payload = _tensor_payload(layer, name, kind)
        descriptors.append((dtype, len(block), count))
        block += payload
        block += bytes(_align4(len(block)) - len(block))
    return bytes(block), descriptors


def _record_size(layer: Layer) -> int:
    spec = layer.spec
    return RECORD_HEAD.size + 4 * len(spec.params) + DESCRIPTOR.size * len(spec.tensors)


def write(model: Model) -> bytes:
    """Serialise a validated model to .mnq bytes."""
    validate(model)
    bands = banding.choose(model) if model.bands == "auto" else model.bands
    if bands is not None and banding.problem(model, bands):
        raise ContainerError(f"bands {bands}: {banding.problem(model, bands)}")
    offsets, arena_size = plan_arena(model, bands)
    blocks = [_data_block(layer) for layer in model.layers]
    table = bytearray()
    tensors = model.input_tensors + model.output_tensors
    for edge, tensor in zip(model.inputs + model.outputs, tensors, strict=True):
        table += EDGE.pack(tensor, DTYPE_CODES[edge.dtype], 0, edge.scale, edge.zero_point)
    for shape, offset in zip(model.shapes, offsets, strict=True):
        dims = tuple(shape) + (1,) * (4 - len(shape))
        table += TENSOR.pack(DTYPE_CODES["int8"], len(shape), 0, *dims, offset)
    records_size = sum(_record_size(layer) for layer in model.layers)
    table_size = _align4(HEADER.size + len(table) + records_size)
    data_offset = table_size
    for index, (layer, (block, descriptors)) in enumerate(zip(model.layers, blocks, strict=True)):
        spec = layer.spec
        inputs = tuple(layer.inputs) + (NO_TENSOR,) * (2 - len(layer.inputs))
        table += RECORD_HEAD.pack(
            spec.code,
            ACTIVATION_CODES[layer.activation],
            len(spec.params),
            len(spec.tensors),
            *inputs,
            layer.output,
            bands.rows if bands is not None and bands.first <= index <= bands.last else 0,
            data_offset,
            len(block),
            _crc(block),
        )
        table += struct.pack(f"<{len(spec.params)}i", *(layer.params[n] for n in spec.params))
        for descriptor in descriptors:
            dtype, tensor_offset, count = descriptor
            table += DESCRIPTOR.pack(dtype, bytes(3), tensor_offset, count)
        data_offset += len(block)
    table += bytes(table_size - HEADER.size - len(table))
    counts = (len(model.inputs), len(model.outputs))
    version, counts = (1, (0, 0)) if counts == (1, 1) else (VERSION, counts)
    section = b""
    if model.labels:
        shapes = [spec.shape for spec in model.outputs]
        labels = check_labels(model.labels, shapes, model.labels_output)
        section = pack_section(labels, model.labels_output)
    if section:
        version, counts = LABELS_VERSION, (len(model.inputs), len(model.outputs))
    file_size = data_offset + len(section)
    flags = 0 if bands is None else BANDS
    fields = [MAGIC, version, flags, file_size, table_size, len(model.layers), len(model.shapes)]
    header = HEADER.pack(*fields, 0, arena_size, *counts, len(section) // 4)
    crc = _crc(header[:CRC_OFFSET], header[CRC_OFFSET + 4 :], table)
    header = HEADER.pack(*fields, crc, arena_size, *counts, len(section) // 4)
    return header + bytes(table) + b"".join(block for block, _ in blocks) + section


# --------------------------------------------------------------------------- reading


def _read_bands(heights, flags):
    """The Bands the records' band heights give (one run of equal heights), or None."""
    staged = [index for index, rows in enumerate(heights) if rows]
    if not flags & BANDS:
        if staged:
            raise ContainerError(f"layer {staged[0]}: non-zero reserved field")
        return None
    first, last = (staged[0], staged[-1]) if staged else (0, -1)
    if (
        len(staged) < 2
        or staged != list(range(first, last + 1))
        or len(set(heights[first : last + 1])) != 1
    ):
        raise ContainerError(
            "the BANDS flag needs one run of two or more layers of one band height"
        )
    return banding.Bands(first, last, heights[first])


def _reshape_weights(where, op, params, values):
    shape = weight_shape(op, params)
    if values.size != int(np.prod(shape)):
        raise ContainerError(f"{where}: {op} weights must have shape {shape}")
    return values.reshape(shape)


def read(data: bytes, name: str = "container") -> Model:
    """Parse and fully validate .mnq bytes; ContainerError says what is wrong."""
    try:
        return _read(bytes(data), name)
    except ContainerError as error:
        message = str(error)
        raise ContainerError(
            message if message.startswith(name) else f"{name}: {message}"
        ) from None


def _read(data: bytes, name: str) -> Model:
    if len(data) < TENSORS_AT:  # the shortest header and edges, version 1
        raise ContainerError(f"{len(data)} bytes is too short for a .mnq header")
    head = HEADER.unpack_from(data)
    magic, version, flags, file_size, table_size, layer_count, tensor_count, crc, arena = head[:9]
    n_in, n_out, reserved = head[9:]
    if magic != MAGIC:
        raise ContainerError(f"not a .mnq file (bad magic {magic!r})")
    if version not in VERSIONS:
        raise ContainerError(
            f"version {version} is not supported (this reader: 1 to 3); update micronn"
        )
    if version == 1:
        if n_in or n_out or reserved:
            raise ContainerError("non-zero reserved header field (bytes 28-31 of version 1)")
        n_in = n_out = 1
    labels_size = 0
    if version == LABELS_VERSION:
        labels_size, reserved = 4 * reserved, 0
        if not labels_size or labels_size >= file_size - table_size:
            raise ContainerError(f"impossible labels section of {labels_size} bytes")
    if flags & ~BANDS or reserved:
        raise ContainerError("unknown flags or non-zero reserved header fields")
    if n_in < 1 or n_out < 1:
        raise ContainerError(f"{n_in} inputs and {n_out} outputs; a model needs at least 1 each")
    tensors_at = EDGES_AT + EDGE.size * (n_in + n_out)
    if file_size != len(data):
        raise ContainerError(
            f"header says {file_size} bytes but the file has {len(data)} (truncated or padded?)"
        )
    if table_size % 4 or not tensors_at < table_size <= file_size:
        raise ContainerError(f"table size {table_size} is invalid")
    if _crc(data[:CRC_OFFSET], data[CRC_OFFSET + 4 : table_size]) != crc:
        raise ContainerError("header/layer table fails its CRC check (file corrupt)")
    if layer_count < 1 or tensor_count < 2:
        raise ContainerError("a model needs at least one layer and two tensors")
    position = tensors_at + TENSOR.size * tensor_count
    if position > table_size:
        raise ContainerError("the tensor table runs past the table")
    shapes, offsets = _read_tensors(data, tensors_at, tensor_count)
    edges = [_read_edge(data, EDGES_AT + EDGE.size * i, shapes) for i in range(n_in + n_out)]
    layers, expected_offset, heights = [], table_size, []
    for index in range(layer_count):
        layer, position, expected_offset, rows = _read_layer(
            data, index, position, table_size, expected_offset
        )
        layers.append(layer)
        heights.append(rows)
    if position != table_size:
        raise ContainerError("bytes after the last layer record (table_size is too large)")
    if expected_offset != file_size - labels_size:
        raise ContainerError("data blocks do not end at the end of the file or labels section")
    specs, ids = [spec for spec, _ in edges], [tensor for _, tensor in edges]
    model = Model(specs[:n_in], specs[n_in:], layers, shapes, ids[:n_in], ids[n_in:])
    if labels_size:
        try:
            model.labels, model.labels_output = unpack_section(
                data[file_size - labels_size :], [spec.shape for spec in specs[n_in:]]
            )
        except ValueError as error:
            raise ContainerError(str(error)) from None
    validate(model)
    model.bands = _read_bands(heights, flags)
    if model.bands is not None and banding.problem(model, model.bands):
        raise ContainerError(f"the banded stage is invalid: {banding.problem(model, model.bands)}")
    problem = check_arena(model, offsets, arena, model.bands)
    if problem:
        raise ContainerError(problem)
    return model


def _read_tensors(data, tensors_at, count):
    shapes, offsets = [], []
    for t in range(count):
        dtype, ndim, reserved, *dims, offset = TENSOR.unpack_from(
            data, tensors_at + TENSOR.size * t
        )
        if dtype != DTYPE_CODES["int8"] or not 1 <= ndim <= 4 or reserved:
            raise ContainerError(f"activation tensor {t} has a bad dtype, rank or reserved field")
        if 0 in dims or any(d != 1 for d in dims[ndim:]):
            raise ContainerError(f"activation tensor {t} has an invalid shape")
        shapes.append(tuple(dims[:ndim]))
        offsets.append(offset)
    return shapes, offsets


def _read_edge(data, position, shapes):
    tensor, dtype, reserved, scale, zero_point = EDGE.unpack_from(data, position)
    if tensor >= len(shapes) or dtype != DTYPE_CODES["int8"] or reserved:
        raise ContainerError("input/output description is invalid")
    return TensorSpec(shapes[tensor], float(scale), zero_point), tensor


def _read_layer(data, index, position, table_size, expected_offset):
    where = f"layer {index}"
    if position + RECORD_HEAD.size > table_size:
        raise ContainerError(f"{where}: record runs past the layer table")
    code, activation, n_params, n_tensors, in0, in1, out, band, offset, size, block_crc = (
        RECORD_HEAD.unpack_from(data, position)
    )
    spec = BY_CODE.get(code)
    if spec is None:
        raise ContainerError(
            f"{where}: unknown operator code {code}; update the micronn runtime to read this model"
        )
    op = spec.name
    if (n_params, n_tensors) != (len(spec.params), len(spec.tensors)):
        raise ContainerError(f"{where}: wrong parameter or tensor count for {op}")
    if activation not in ACTIVATION_NAMES:
        raise ContainerError(f"{where}: unknown activation code {activation}")
    inputs = tuple(t for t in (in0, in1) if t != NO_TENSOR)
    if len(inputs) != spec.inputs or (spec.inputs == 1 and in1 != NO_TENSOR):
        raise ContainerError(f"{where}: {op} takes {spec.inputs} input(s)")
    end = position + RECORD_HEAD.size + 4 * n_params + DESCRIPTOR.size * n_tensors
    if end > table_size:
        raise ContainerError(f"{where}: record runs past the layer table")
    if offset != expected_offset or size % 4 or offset + size > len(data):
        raise ContainerError(f"{where}: data block is misplaced or runs past the file")
    block = data[offset : offset + size]
    if _crc(block) != block_crc:
        raise ContainerError(f"{where}: data block fails its CRC check (file corrupt)")
    values = struct.unpack_from(f"<{n_params}i", data, position + RECORD_HEAD.size)
    params = dict(zip(spec.params, values, strict=True))
    descriptors_at = position + RECORD_HEAD.size + 4 * n_params
    tensors, bits, cursor = {}, 8, 0
    for t, (tensor_name, kind) in enumerate(spec.tensors):
        dtype, reserved, t_offset, count = DESCRIPTOR.unpack_from(
            data, descriptors_at + DESCRIPTOR.size * t
        )
        if dtype not in DTYPE_BITS or any(reserved) or t_offset % 4 or t_offset < cursor:
            raise ContainerError(f"{where}: tensor {tensor_name} has a bad dtype or offset")
        nbytes = packed_size(count, DTYPE_BITS[dtype])
        if t_offset + nbytes > size:
            raise ContainerError(f"{where}: tensor {tensor_name} does not fit its data block")
        if any(block[cursor:t_offset]):
            raise ContainerError(f"{where}: non-zero padding before tensor {tensor_name}")
        raw = block[t_offset : t_offset + nbytes]
        used_bits = count * DTYPE_BITS[dtype] % 8
        if used_bits and raw[-1] >> used_bits:
            raise ContainerError(f"{where}: non-zero unused bits after tensor {tensor_name}")
        if kind == "weights" and dtype in BITS_OF_WEIGHT_DTYPE:
            bits = BITS_OF_WEIGHT_DTYPE[dtype]
            values = np.frombuffer(raw, np.int8) if bits == 8 else unpack(raw, count, bits)
        elif kind == "int32" and dtype == DTYPE_CODES["int32"]:
            values = np.frombuffer(raw, "<i4").astype(np.int32)
        elif kind == "int8" and dtype == DTYPE_CODES["int8"]:
            values = np.frombuffer(raw, np.int8)
        else:
            raise ContainerError(f"{where}: tensor {tensor_name} has the wrong dtype for {op}")
        tensors[tensor_name] = values.copy()
        if kind == "weights":
            tensors[tensor_name] = _reshape_weights(where, op, params, tensors[tensor_name])
        cursor = t_offset + nbytes
    if any(block[cursor:]):
        raise ContainerError(f"{where}: non-zero padding at the end of the data block")
    layer = Layer(op, params, tensors, inputs, out, ACTIVATION_NAMES[activation], bits)
    return layer, end, offset + size, band
