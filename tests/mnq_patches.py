"""Edit .mnq bytes at the level of docs/format.md, for tests that feed broken files to readers.

Patches are functions of a bytearray that change it in place; with_crcs() then recomputes every
CRC as a writer would, so that a reader's rule checks (not its CRCs) are what refuse the file.
"""

import struct
import zlib

HEADER = 32
EDGES = {"input": 32, "output": 44}
TENSORS_AT = 56
TENSOR_ENTRY = 16
RECORD_HEAD = 24
DESCRIPTOR = 12


def header(data) -> dict:
    _, _, _, file_size, table_size, layers, tensors, _, arena, _ = struct.unpack_from(
        "<4sHHIIHHIII", data
    )
    return {
        "file_size": file_size,
        "table_size": table_size,
        "layers": layers,
        "tensors": tensors,
        "arena": arena,
    }


def tensors_at(data) -> int:
    """Where the activation tensors start: after two edges (version 1), or after as many as
    header bytes 28 and 29 count (version 2)."""
    if struct.unpack_from("<H", data, 4)[0] == 2:
        return HEADER + 12 * (data[28] + data[29])
    return TENSORS_AT


def layout(data) -> list:
    """Per layer: record offset, block offset and size, absolute descriptor and tensor offsets.

    Stops at the first record that does not fit the table (a patch may have broken it).
    """
    head = header(data)
    end = min(head["table_size"], len(data))
    position = tensors_at(data) + TENSOR_ENTRY * head["tensors"]
    layers = []
    for _ in range(head["layers"]):
        if position + RECORD_HEAD > end:
            break
        _, _, n_params, n_tensors = struct.unpack_from("<BBBB", data, position)
        block, size = struct.unpack_from("<II", data, position + 12)
        first = position + RECORD_HEAD + 4 * n_params
        if first + DESCRIPTOR * n_tensors > end:
            break
        tensors = []
        for t in range(n_tensors):
            _, offset, _ = struct.unpack_from("<B3xII", data, first + DESCRIPTOR * t)
            tensors.append({"descriptor": first + DESCRIPTOR * t, "at": block + offset})
        layers.append({"record": position, "block": block, "size": size, "tensors": tensors})
        position = first + DESCRIPTOR * n_tensors
    return layers


def with_crcs(data) -> bytes:
    """Recompute every block CRC and then the table CRC, as a writer would."""
    data = bytearray(data)
    for layer in layout(data):
        block = data[layer["block"] : layer["block"] + layer["size"]]
        struct.pack_into("<I", data, layer["record"] + 20, zlib.crc32(block))
    table_size = struct.unpack_from("<I", data, 12)[0]
    crc = zlib.crc32(data[24:table_size], zlib.crc32(data[:20]))
    struct.pack_into("<I", data, 20, crc)
    return bytes(data)


# ------------------------------------------------------------------ where things are


def edge(which, field):
    """An edge field: tensor 0, dtype 2, reserved 3, scale 4, zero_point 8."""
    return EDGES[which] + field


def tensor_entry(t, field):
    """An activation tensor field: dtype 0, ndim 1, reserved 2, dims 4 + 2i, arena_offset 12."""
    return TENSORS_AT + TENSOR_ENTRY * t + field


def record(k, field):
    """A record field: op 0, act 1, P 2, N 3, input0 4, input1 6, output 8, reserved 10,
    data_offset 12, data_size 16, data_crc32 20, params 24 + 4i."""
    return lambda data: layout(data)[k]["record"] + field


def descriptor(k, t, field):
    """A tensor descriptor field: dtype 0, reserved 1-3, offset 4, count 8."""
    return lambda data: layout(data)[k]["tensors"][t]["descriptor"] + field


def element(k, t, index=0, itemsize=4):
    """A byte inside layer k's tensor t."""
    return lambda data: layout(data)[k]["tensors"][t]["at"] + index * itemsize


# ------------------------------------------------------------------ patches


def _at(where, data):
    return where if isinstance(where, int) else where(data)


def put(fmt, where, value):
    def patch(data):
        struct.pack_into(fmt, data, _at(where, data), value)

    return patch


def add(fmt, where, delta):
    def patch(data):
        offset = _at(where, data)
        struct.pack_into(fmt, data, offset, struct.unpack_from(fmt, data, offset)[0] + delta)

    return patch


def both(*patches):
    def patch(data):
        for p in patches:
            p(data)

    return patch


def _grow_file(data, extra):
    data.extend(extra)
    struct.pack_into("<I", data, 8, len(data))


def append_zeros(data):
    _grow_file(data, bytes(4))


def dirty_last_block_end(data):
    """Grow the last block by 4 bytes of padding, one of them non-zero."""
    last = layout(data)[-1]["record"]
    _grow_file(data, b"\0\0\1\0")
    add("<I", last + 16, 4)(data)


def insert_into_table(position, payload):
    """Insert bytes at `position` inside the table, moving every data block after them."""

    def patch(data):
        shift = len(payload)
        records = [layer["record"] for layer in layout(data)]
        data[position:position] = payload
        add("<I", 12, shift)(data)
        struct.pack_into("<I", data, 8, len(data))
        for at in records:
            moved = at + shift if at >= position else at
            add("<I", moved + 12, shift)(data)

    return patch


def table_padding(payload):
    """Append `payload` (a multiple of 4 bytes) to the end of the table."""

    def patch(data):
        insert_into_table(header(data)["table_size"], payload)(data)

    return patch


def extra_tensor(dims=(1, 1, 1, 1), ndim=1, offset=0):
    """Append an activation tensor that no layer writes."""

    def patch(data):
        count = header(data)["tensors"]
        entry = struct.pack("<BBH4HI", 1, ndim, 0, *dims, offset)
        insert_into_table(TENSORS_AT + TENSOR_ENTRY * count, entry)(data)
        struct.pack_into("<H", data, 18, count + 1)

    return patch
