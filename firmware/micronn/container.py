"""Read and check a .mnq container, version 1, 2 or 3 (the specification is docs/format.md).

The file is streamed: the table (header, edges, activation tensors, layer records) first, read
and checked here, then checked by the operators' rules, its bands and its arena
(rules.check_table), then each layer's data block, every tensor read straight into the array it
will live in (container_blocks.py). Any problem raises ValueError naming it and what to do; a
model is returned only when every check of "What a reader checks" has passed. Value rules live
in values.py.

read() keeps every tensor in RAM. read_table() + rules.check_table() +
container_blocks.read_blocks() let the loader drop each module before it imports the next, and
leave the weights of chosen layers in the file (placement.py). Version 2's edge table (several
inputs or outputs) is read by edge_table.py, imported only for such a file; version 3's labels
section by labels.py, likewise.
"""

import struct

from .model import Edge, Layer, Model
from .ops import ACTIVATIONS
from .reading import (
    DAMAGED,
    DTYPE_BITS,
    INT2,
    INT4,
    INT8,
    INT32,
    RECORD_HEAD,
    UPDATE,
    Reader,
    crc32,
)

MAGIC = b"\x89MNQ"
VERSION = 3  # and 1, 2; 2 adds the edge counts (header bytes 28, 29), 3 the labels (30, 31)
TENSORS_AT = 56  # header (32) + input edge (12) + output edge (12), or the first two edges
TENSOR_ENTRY = 16
DESCRIPTOR = 12
NO_TENSOR = 0xFFFF
BANDS = 1  # header flag: a stage runs in bands of rows, its height in the records (bands.py)
KIND_DTYPES = {"w": (INT8, INT4, INT2), "i": (INT32,), "b": (INT8,)}


def read(stream, name="model"):
    """Parse and check a whole .mnq file from a binary stream; return a Model."""
    from .container_blocks import read_blocks
    from .rules import check_table

    reader, model, heads = read_table(stream, name)
    check_table(reader, model)
    read_blocks(reader, model, heads)
    return model


def read_table(stream, name="model"):
    """Parse the table and check its structure (sizes, CRC, edges, records, the graph); return
    (reader, model without tensor data, the layer records' heads: RECORD_HEAD bytes each, in one
    bytearray; their bodies are dropped once parsed).

    Each layer's tensors are still a flat tuple of (dtype, offset in block, nbytes) per tensor;
    model.file_size and model.table_size tell how the bytes divide; model.bands holds the
    records' band heights. Go on with rules.check_table(), then
    container_blocks.read_blocks().
    """
    reader = Reader(stream, name)
    size = stream.seek(0, 2)
    stream.seek(0)
    if size < TENSORS_AT:
        reader.fail(f"{size} bytes is too short for a .mnq model (at least {TENSORS_AT})", DAMAGED)
    head = bytearray(TENSORS_AT)
    reader.fill(head, TENSORS_AT)
    file_size, table_size, layer_count, tensor_count, arena_size = _header(reader, head, size)
    reader.crc = crc32(memoryview(head)[24:], crc32(memoryview(head)[:20]))
    records_at = TENSORS_AT + TENSOR_ENTRY * tensor_count
    version = head[4]
    labels_size = 0
    if version == 3:
        from .labels import section_size

        labels_size = section_size(reader, head, file_size - table_size)
    more = b""  # the edges past the first two
    if version >= 2 and (head[28] != 1 or head[29] != 1):
        from . import edge_table

        more = edge_table.more(reader, head, records_at, table_size)
        records_at += len(more)
    if records_at > table_size:
        reader.fail(f"{tensor_count} activation tensors do not fit the table", DAMAGED)
    tensor_table = bytearray(TENSOR_ENTRY * tensor_count)
    reader.fill(tensor_table, len(tensor_table))
    heads, bodies = _read_records(reader, records_at, table_size, layer_count)
    if reader.crc != struct.unpack_from("<I", head, 20)[0]:
        reader.fail("the header and layer table fail their CRC check", DAMAGED)
    flags = struct.unpack_from("<H", head, 6)[0]
    if flags & ~BANDS:
        reader.fail(f"unknown feature flags 0x{flags:04x}", UPDATE)
    if any(head[28 if version == 1 else 30 : 32 if version < 3 else 30]):
        reader.fail("the reserved header field is not zero")
    if layer_count < 1 or tensor_count < 2:
        reader.fail(f"{layer_count} layers and {tensor_count} tensors; a model needs 1 and 2")
    shapes, offsets = _tensors(reader, tensor_table, tensor_count)
    if more:
        edges, n_in = edge_table.edges(reader, head, more, shapes)
    else:
        edges = (
            _edge(reader, head, 32, "input", shapes),
            _edge(reader, head, 44, "output", shapes),
        )
        n_in = 1
    data_end = file_size - labels_size
    layers = _layers(reader, heads, bodies, shapes, table_size, data_end, edges, n_in)
    bodies = None
    model = Model(edges, n_in, shapes, offsets, arena_size, layers)
    if more:
        model.net = edge_table.net
    model.labels_size = labels_size
    model.file_size = file_size
    model.table_size = table_size
    heights = [struct.unpack_from("<H", heads, RECORD_HEAD * i + 10)[0] for i in range(layer_count)]
    if flags & BANDS:
        model.bands = heights  # staged by rules.check_table, once the rules hold
    elif max(heights):
        reader.fail(f"layer {heights.index(max(heights))} has a non-zero reserved field")
    return reader, model, heads


def _header(reader, head, size):
    if head[:4] != MAGIC:
        reader.fail("not a .mnq model (its first bytes are not 89 4D 4E 51)")
    version, _, file_size, table_size, layer_count, tensor_count = struct.unpack_from(
        "<HHIIHH", head, 4
    )
    if not 1 <= version <= VERSION:
        reader.fail(f"container version {version}; this micronn reads 1 to {VERSION}", UPDATE)
    if file_size > size:
        reader.fail(f"the file has {size} bytes but its header says {file_size}", DAMAGED)
    if file_size < size:
        reader.fail(f"{size - file_size} unexpected bytes after the model's end", DAMAGED)
    if table_size % 4 or not TENSORS_AT < table_size <= file_size:
        reader.fail(f"impossible table size {table_size}", DAMAGED)
    arena_size = struct.unpack_from("<I", head, 24)[0]
    return file_size, table_size, layer_count, tensor_count, arena_size


def _read_records(reader, position, table_size, layer_count):
    """Read the layer records: unchecked, but inside the table and ending where it ends.

    Returns (the heads, in one bytearray, [body]). Every structure of the table is a multiple of
    4 bytes long, so nothing may follow the last record.
    """
    if position + RECORD_HEAD * layer_count > table_size:  # before the heads are allocated
        index = (table_size - position) // RECORD_HEAD
        reader.fail(f"layer record {index} runs past the table", DAMAGED)
    heads = bytearray(RECORD_HEAD * layer_count)
    bodies = []
    for index in range(layer_count):
        if position + RECORD_HEAD > table_size:
            reader.fail(f"layer record {index} runs past the table", DAMAGED)
        at = RECORD_HEAD * index
        reader.fill(memoryview(heads)[at : at + RECORD_HEAD], RECORD_HEAD)
        body_size = 4 * heads[at + 2] + DESCRIPTOR * heads[at + 3]
        position += RECORD_HEAD + body_size
        if position > table_size:
            reader.fail(f"layer record {index} runs past the table", DAMAGED)
        body = bytearray(body_size)
        reader.fill(body, body_size)
        bodies.append(body)
    if position != table_size:
        reader.fail(f"{table_size - position} unexpected bytes after the last layer record")
    return heads, bodies


def _tensors(reader, table, count):
    shapes = []
    offsets = []
    for t in range(count):
        dtype, ndim, reserved, d0, d1, d2, d3, offset = struct.unpack_from(
            "<BBHHHHHI", table, TENSOR_ENTRY * t
        )
        dims = (d0, d1, d2, d3)
        if dtype != INT8:
            reader.fail(f"activation tensor {t} has dtype code {dtype}; version 1 knows 1 (int8)")
        if not 1 <= ndim <= 4 or reserved:
            reader.fail(f"activation tensor {t} has ndim {ndim} or a non-zero reserved field")
        for axis in range(4):
            if dims[axis] < 1 or (axis >= ndim and dims[axis] != 1):
                reader.fail(f"activation tensor {t} has shape {dims}, invalid for ndim {ndim}")
        shapes.append(dims[:ndim])
        offsets.append(offset)
    return shapes, offsets


def _edge(reader, head, at, what, shapes):
    tensor, dtype, reserved, scale, zero_point = struct.unpack_from("<HBBfi", head, at)
    if tensor >= len(shapes):
        reader.fail(f"the {what} is tensor {tensor}, but there are {len(shapes)} tensors")
    if dtype != INT8:
        reader.fail(f"the {what} has dtype code {dtype}; version 1 knows only 1 (int8)", UPDATE)
    if reserved:
        reader.fail(f"the {what} description has a non-zero reserved byte")
    if not 0.0 < scale < 3.5e38:  # also false for NaN
        reader.fail(f"the {what} scale {scale} is not a positive finite number")
    if not -128 <= zero_point <= 127:
        reader.fail(f"the {what} zero point {zero_point} is outside -128..127")
    return Edge(tensor, shapes[tensor], scale, zero_point)


def _layers(reader, heads, bodies, shapes, block_start, file_size, edges, n_in):
    """Check every record and the graph they form; return the layers, blocks not yet read.
    edges: the n_in inputs, then the outputs (arena.py checks that each names its own tensor).
    The operators' rules come later (rules.check_table)."""
    written = bytearray(len(shapes))
    for k in range(n_in):
        written[edges[k].tensor] = 1
    layers = []
    for index in range(len(bodies)):
        layer = _layer(reader, index, heads, bodies[index], block_start, file_size)
        where = f"layer {index} ({layer.name})"
        for tensor in layer.inputs:
            if tensor >= len(shapes) or not written[tensor]:
                reader.fail(f"{where} reads tensor {tensor} before it is written")
        if layer.output >= len(shapes) or written[layer.output]:
            reader.fail(f"{where} writes tensor {layer.output}, which is invalid or written twice")
        written[layer.output] = 1
        block_start += struct.unpack_from("<I", heads, RECORD_HEAD * index + 16)[0]
        layers.append(layer)
    if block_start != file_size:
        reader.fail(f"the data blocks end at byte {block_start}, not at {file_size}")
    if min(written) == 0:
        reader.fail(f"activation tensor {list(written).index(0)} is never written")
    return layers


def _layer(reader, index, heads, body, block_start, file_size):
    """One record's fields and tensor descriptors, checked; the layer's tensors are not read."""
    code, activation, n_params, n_tensors, in0, in1, out, _, offset, size = struct.unpack_from(
        "<BBBBHHHHII", heads, RECORD_HEAD * index
    )
    from .ops import by_code  # not a global: load() drops the op table before the blocks

    entry = by_code(code)
    if entry is None:
        reader.fail(
            f"layer {index} uses operator code {code} which this runtime does not support", UPDATE
        )
    name, param_count, kinds, input_count = entry[:4]
    where = f"layer {index} ({name})"
    if n_params != param_count or n_tensors != len(kinds):
        reader.fail(
            f"{where} has {n_params} params and {n_tensors} tensors, not "
            f"{param_count} and {len(kinds)}"
        )
    if activation >= len(ACTIVATIONS):
        reader.fail(f"{where} has unknown activation code {activation}", UPDATE)
    given = (in0 != NO_TENSOR) + (in1 != NO_TENSOR)
    if given != input_count or (in0 == NO_TENSOR and in1 != NO_TENSOR):
        reader.fail(f"{where} takes {input_count} input(s)")
    inputs = (in0,) if input_count == 1 else (in0, in1) if input_count == 2 else ()
    if offset != block_start or size % 4 or offset + size > file_size:
        reader.fail(
            f"the data block of {where} ({size} bytes at {offset}) is misaligned, "
            f"not right after the previous one (at {block_start}) or past the end"
        )
    params = struct.unpack_from(f"<{n_params}i", body)
    counts = []
    descriptors = []
    weight_bits = 8
    end = 0
    for t in range(n_tensors):
        dtype, r0, r1, r2, t_offset, count = struct.unpack_from(
            "<BBBBII", body, 4 * n_params + DESCRIPTOR * t
        )
        what = f"tensor {t} of {where}"
        if dtype not in DTYPE_BITS or r0 or r1 or r2:
            reader.fail(f"{what} has a bad dtype code {dtype} or non-zero reserved bytes")
        if dtype not in KIND_DTYPES[kinds[t]]:
            reader.fail(f"{what} has dtype code {dtype}, which this operator does not take there")
        nbytes = (count * DTYPE_BITS[dtype] + 7) // 8
        if t_offset % 4 or t_offset < end or t_offset + nbytes > size:
            reader.fail(f"{what} is misaligned, overlaps another or does not fit its data block")
        if kinds[t] == "w":
            weight_bits = DTYPE_BITS[dtype]
        counts.append(count)
        descriptors += (dtype, t_offset, nbytes)  # replaced by the arrays in _read_block
        end = t_offset + nbytes
    layer = Layer(name, activation, params, kinds, inputs, out, tuple(counts), tuple(descriptors))
    if weight_bits != 8:
        layer.weight_bits = weight_bits
    return layer
